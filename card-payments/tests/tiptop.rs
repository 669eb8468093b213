//! Guards the TipTop Pay adapter against the emulator over real HTTP: the order and its hosted
//! page, Check then Pay through the card and 3-D Secure pages, refusals as Fail with the right
//! decline, exact amounts, signatures over the exact bytes, refunds idempotent by key, and
//! notifications re-sent until answered, forged, dropped and duplicated.

mod common;

use common::{Fixture, control_get, control_post, eventually, order, start};
use serde_json::json;
use tolem_card_payments::{
    Decline, Incoming, NotificationError, NotificationKind, PageLanguage, RefundProgress,
    ServiceError, Verdict,
};

/// Makes an order and pays it with `card`; the last answer of the browser.
async fn pay(
    fixture: &Fixture,
    invoice: u32,
    amount_tiyn: i64,
    card: &str,
    expiry: &str,
) -> common::Page {
    let created = fixture
        .tiptop
        .create_order(&order(invoice, amount_tiyn, PageLanguage::Ru))
        .await
        .expect("the order is made");
    fixture
        .browser
        .pay(&created.redirect_url, card, expiry, false)
        .await
}

/// The kinds of notifications read for an invoice, in order.
fn kinds(fixture: &Fixture, invoice: u32) -> Vec<NotificationKind> {
    fixture
        .receiver
        .read_for(invoice)
        .iter()
        .map(|n| n.kind)
        .collect()
}

#[tokio::test]
async fn an_order_gives_its_hosted_page() {
    let fixture = start(&[]).await;
    let created = fixture
        .tiptop
        .create_order(&order(101, 150_001, PageLanguage::Kk))
        .await
        .unwrap();
    let id = created
        .service_order
        .clone()
        .expect("TipTop Pay names its order");
    assert_eq!(
        created.redirect_url,
        format!("{}/d/{id}", fixture.emulator.url)
    );
    let page = fixture.browser.get(&created.redirect_url).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Картамен төлеу"),
        "in Kazakh: {}",
        page.body
    );
    assert!(page.body.contains("1500.01 ₸"));
    assert!(
        page.body.contains("4242 4242 4242 4242"),
        "test cards in the footer"
    );

    let orders = control_get(&fixture.emulator.url, "/control/orders").await;
    let recorded = &orders[0];
    assert_eq!(recorded["amount"], "1500.01");
    assert_eq!(recorded["amount_tiyn"], 150_001);
    assert_eq!(recorded["invoice"], "101");
    assert_eq!(recorded["currency"], "KZT");
    assert_eq!(recorded["culture"], "kk-KZ");
    assert_eq!(
        recorded["success_url"],
        "https://gateway.test/bills/101/paid"
    );

    // The same bill again: the service's X-Request-ID gives the first order back.
    let again = fixture
        .tiptop
        .create_order(&order(101, 150_001, PageLanguage::Kk))
        .await
        .unwrap();
    assert_eq!(again, created);
    assert_eq!(fixture.emulator.emulator.orders().len(), 1);
}

#[tokio::test]
async fn a_card_with_3ds_is_checked_paid_and_sent_back_to_the_shop() {
    let fixture = start(&[]).await;
    let answer = pay(&fixture, 102, 250_000, "4242 4242 4242 4242", "12/35").await;
    assert_eq!(answer.status, 303);
    assert_eq!(
        answer.location.as_deref(),
        Some("https://gateway.test/bills/102/paid")
    );
    let read = eventually("Check then Pay", || async {
        let read = fixture.receiver.read_for(102);
        (read.len() == 2).then_some(read)
    })
    .await;
    assert_eq!(read[0].kind, NotificationKind::Check);
    assert_eq!(read[1].kind, NotificationKind::Pay);
    let pay = &read[1];
    assert_eq!(pay.amount_tiyn, 250_000);
    assert_eq!(pay.currency, "KZT");
    assert_eq!(pay.email.as_deref(), Some("buyer@example.kz"));
    assert!(pay.test);
    let payment = &fixture.emulator.emulator.orders()[0].payments[0];
    assert_eq!(pay.transaction, Some(payment.transaction_id.to_string()));
    assert_eq!(payment.card_last_four, "4242");
    eventually("both answered", || async {
        let deliveries = fixture.emulator.emulator.deliveries();
        (deliveries.len() == 2 && deliveries.iter().all(|d| d.answered)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn amounts_round_trip_exactly() {
    let fixture = start(&[]).await;
    for (invoice, amount_tiyn) in [(103, 1), (104, 100_000_000), (105, 99_999_999_99)] {
        let answer = pay(&fixture, invoice, amount_tiyn, "4111111111111111", "01/40").await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        let pay = eventually("the Pay", || async {
            fixture
                .receiver
                .read_for(invoice)
                .into_iter()
                .find(|n| n.kind == NotificationKind::Pay)
        })
        .await;
        assert_eq!(pay.amount_tiyn, amount_tiyn);
    }
    let amounts: Vec<String> = fixture
        .emulator
        .emulator
        .orders()
        .iter()
        .map(|o| o.amount.clone())
        .collect();
    assert_eq!(amounts, ["0.01", "1000000.00", "99999999.99"]);
}

#[tokio::test]
async fn refused_cards_send_fail_with_their_decline() {
    let fixture = start(&[]).await;
    let cases = [
        (
            106,
            "4012888888881881",
            "12/35",
            false,
            Decline::InsufficientFunds,
            5051,
        ),
        (
            107,
            "4111111111111111",
            "01/20",
            false,
            Decline::CardExpired,
            5054,
        ),
        (
            108,
            "4000000000000051",
            "12/35",
            false,
            Decline::NotEnabledForInternet,
            5057,
        ),
        (
            109,
            "4000000000000069",
            "12/35",
            false,
            Decline::CardExpired,
            5054,
        ),
        (
            110,
            "4242424242424242",
            "12/35",
            true,
            Decline::AuthenticationFailed,
            5206,
        ),
    ];
    for (invoice, card, expiry, cancel, decline, code) in cases {
        let created = fixture
            .tiptop
            .create_order(&order(invoice, 10_000, PageLanguage::En))
            .await
            .unwrap();
        let page = fixture
            .browser
            .pay(&created.redirect_url, card, expiry, cancel)
            .await;
        assert_eq!(page.status, 200, "{card}");
        assert_eq!(page.reason_code(), Some(code), "{card}: {}", page.body);
        assert!(page.body.contains("Payment refused"));
        assert_eq!(
            page.fail_link().as_deref(),
            Some(format!("https://gateway.test/bills/{invoice}/failed").as_str())
        );
        let fail = eventually("the Fail", || async {
            fixture
                .receiver
                .read_for(invoice)
                .into_iter()
                .find(|n| n.kind == NotificationKind::Fail)
        })
        .await;
        assert_eq!(fail.decline, Some(decline), "{card}");
        assert!(
            fail.reason
                .as_deref()
                .unwrap()
                .starts_with(&code.to_string())
        );
        assert!(!kinds(&fixture, invoice).contains(&NotificationKind::Pay));
    }
}

#[tokio::test]
async fn a_check_the_gateway_refuses_declines_the_card() {
    let fixture = start(&[]).await;
    fixture.receiver.script(
        "tiptop",
        NotificationKind::Check,
        &[Verdict::UnknownInvoice],
    );
    let page = pay(&fixture, 111, 10_000, "4111111111111111", "12/35").await;
    assert_eq!(page.reason_code(), Some(3001), "{}", page.body);
    let fail = eventually("the Fail", || async {
        fixture
            .receiver
            .read_for(111)
            .into_iter()
            .find(|n| n.kind == NotificationKind::Fail)
    })
    .await;
    assert_eq!(fail.reason.as_deref(), Some("3001 InvalidInvoiceId"));
    assert_eq!(fail.decline, Some(Decline::Other));
    assert_eq!(
        kinds(&fixture, 111),
        [NotificationKind::Check, NotificationKind::Fail]
    );
}

#[tokio::test]
async fn refunds_are_idempotent_by_key() {
    let fixture = start(&[]).await;
    pay(&fixture, 112, 150_000, "5200828282828210", "12/35").await;
    let pay = eventually("the Pay", || async {
        fixture
            .receiver
            .read_for(112)
            .into_iter()
            .find(|n| n.kind == NotificationKind::Pay)
    })
    .await;
    let transaction = pay.transaction.clone().unwrap();
    let first = fixture
        .tiptop
        .refund(112, Some(&transaction), 150_000, "refund-112")
        .await
        .unwrap();
    let again = fixture
        .tiptop
        .refund(112, Some(&transaction), 150_000, "refund-112")
        .await
        .unwrap();
    assert_eq!(again, first);
    assert!(first.refund_id.is_some());
    // Another key cannot refund twice: nothing is left.
    let other = fixture
        .tiptop
        .refund(112, Some(&transaction), 150_000, "refund-112-b")
        .await;
    assert!(matches!(other, Err(ServiceError::Refused(_))), "{other:?}");
    assert_eq!(fixture.emulator.emulator.refunds().len(), 1);
    let refund = eventually("the Refund notification", || async {
        fixture
            .receiver
            .read_for(112)
            .into_iter()
            .find(|n| n.kind == NotificationKind::Refund)
    })
    .await;
    assert_eq!(refund.transaction, Some(transaction));
    assert_eq!(refund.amount_tiyn, 150_000);
    let no_transaction = fixture.tiptop.refund(112, None, 150_000, "k").await;
    assert!(matches!(no_transaction, Err(ServiceError::Refused(_))));
}

#[tokio::test]
async fn signatures_cover_the_exact_bytes_received() {
    let fixture = start(&[]).await;
    pay(&fixture, 113, 10_000, "4111111111111111", "12/35").await;
    let seen = eventually("the Pay as received", || async {
        fixture
            .receiver
            .seen()
            .into_iter()
            .find(|s| s.path == "pay" && s.result.is_ok())
    })
    .await;
    let read = |body: &[u8]| {
        fixture.tiptop.read_notification(&Incoming {
            path: "pay",
            query: "",
            headers: &seen.headers,
            body,
        })
    };
    assert!(read(&seen.body).is_ok());
    for index in [0, seen.body.len() / 2, seen.body.len() - 1] {
        let mut changed = seen.body.clone();
        changed[index] ^= 1;
        assert_eq!(
            read(&changed),
            Err(NotificationError::BadSignature),
            "byte {index}"
        );
    }
}

#[tokio::test]
async fn a_notification_not_answered_is_sent_again() {
    let fixture = start(&[]).await;
    fixture.receiver.script(
        "tiptop",
        NotificationKind::Pay,
        &[Verdict::TryLater, Verdict::TryLater],
    );
    pay(&fixture, 114, 10_000, "4111111111111111", "12/35").await;
    let delivery = eventually("the Pay answered", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.kind == "pay" && d.answered)
    })
    .await;
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
    let pays = kinds(&fixture, 114)
        .into_iter()
        .filter(|k| *k == NotificationKind::Pay)
        .count();
    assert_eq!(pays, 3, "the same Pay, three times");
}

#[tokio::test]
async fn dropped_and_duplicated_notifications() {
    let fixture = start(&["--fail-notifications", "2"]).await;
    pay(&fixture, 115, 10_000, "4111111111111111", "12/35").await;
    let delivery = eventually("the Pay answered", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.kind == "pay" && d.answered)
    })
    .await;
    let dropped: Vec<bool> = delivery.attempts.iter().map(|a| a.dropped).collect();
    assert_eq!(dropped, [true, true, false]);

    let faults = control_post(
        &fixture.emulator.url,
        "/control/faults",
        json!({"duplicate_notifications": true}),
    )
    .await;
    assert_eq!(faults["duplicate_notifications"], true);
    pay(&fixture, 116, 10_000, "4111111111111111", "12/35").await;
    let pays = eventually("the Pay twice", || async {
        let pays: Vec<_> = fixture
            .receiver
            .read_for(116)
            .into_iter()
            .filter(|n| n.kind == NotificationKind::Pay)
            .collect();
        (pays.len() == 2).then_some(pays)
    })
    .await;
    assert_eq!(pays[0], pays[1], "a duplicate is the same notification");
}

#[tokio::test]
async fn forged_and_repeated_notifications_on_request() {
    let fixture = start(&[]).await;
    pay(&fixture, 117, 10_000, "4111111111111111", "12/35").await;
    eventually("the Pay", || async {
        kinds(&fixture, 117)
            .contains(&NotificationKind::Pay)
            .then_some(())
    })
    .await;
    let forged = control_post(
        &fixture.emulator.url,
        "/control/notify",
        json!({"service": "tiptop", "invoice": "117", "kind": "pay", "forge": true}),
    )
    .await;
    assert_eq!(forged["forged"], true);
    assert_eq!(forged["attempts"][0]["status"], 401);
    let refused = fixture
        .receiver
        .seen()
        .into_iter()
        .filter(|s| s.result == Err(NotificationError::BadSignature))
        .count();
    assert_eq!(refused, 1);

    let repeated = control_post(
        &fixture.emulator.url,
        "/control/notify",
        json!({"service": "tiptop", "invoice": "117", "kind": "pay"}),
    )
    .await;
    assert_eq!(repeated["attempts"][0]["answer"], r#"{"code":0}"#);
    let pays: Vec<_> = fixture
        .receiver
        .read_for(117)
        .into_iter()
        .filter(|n| n.kind == NotificationKind::Pay)
        .collect();
    assert_eq!(pays.len(), 2);
    assert_eq!(pays[0], pays[1]);
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let fixture = start(&[]).await;
    let mut config = fixture.emulator.tiptop_config();
    config.secret = tolem_card_payments::Secret("not-the-secret".into());
    let adapter = tolem_card_payments::service_for(&config).unwrap();
    let result = adapter
        .create_order(&order(118, 100, PageLanguage::Ru))
        .await;
    assert!(
        matches!(result, Err(ServiceError::CredentialsRefused(401))),
        "{result:?}"
    );
}

/// TipTop Pay keeps the answer to an `X-Request-ID` for an hour: a refund sent again after it
/// (its first answer lost) would be a new one. Its payment says whether it was refunded —
/// `payments/get`'s `Refunded` — which is what the gateway asks before sending it again.
#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_found_at_the_service() {
    let fixture = start(&[]).await;
    pay(&fixture, 114, 150_000, "5200828282828210", "12/35").await;
    let pay = eventually("the Pay", || async {
        fixture
            .receiver
            .read_for(114)
            .into_iter()
            .find(|n| n.kind == NotificationKind::Pay)
    })
    .await;
    let transaction = pay.transaction.clone().unwrap();
    assert_eq!(
        fixture.tiptop.find_refund(114, Some(&transaction)).await,
        Ok(None),
        "not refunded yet"
    );
    control_post(
        &fixture.emulator.url,
        "/control/faults",
        json!({"lose_refund_answers": 1, "idempotency_window_ms": 0}),
    )
    .await;
    let lost = fixture
        .tiptop
        .refund(114, Some(&transaction), 150_000, "refund-114")
        .await;
    assert!(
        matches!(&lost, Err(error) if error.refusal().is_none()),
        "{lost:?}"
    );
    assert_eq!(
        fixture.emulator.emulator.refunds().len(),
        1,
        "made all the same"
    );
    let found = fixture
        .tiptop
        .find_refund(114, Some(&transaction))
        .await
        .unwrap()
        .expect("refunded already");
    assert_eq!(found.progress, RefundProgress::Finished);
    // Sent again past the window: taken as a new refund, which nothing is left for.
    let again = fixture
        .tiptop
        .refund(114, Some(&transaction), 150_000, "refund-114")
        .await;
    assert!(matches!(again, Err(ServiceError::Refused(_))), "{again:?}");
    assert_eq!(fixture.emulator.emulator.refunds().len(), 1);
}
