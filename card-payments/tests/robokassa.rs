//! Guards the Robokassa adapter against the emulator over real HTTP: the signed link and the
//! page's checks of it, ResultURL answered `OK{InvId}` and re-sent until then, the signed
//! success redirect, refusals that only redirect, exact amounts, and refunds through
//! OpStateExt and the JWT refund API; signatures with the hash the shop is set to, and test
//! links signed with the shop's test passwords, not its working ones.

mod common;

use common::{Fixture, control_get, control_post, eventually, order, start};
use serde_json::json;
use tolem_card_payments::config::{RobokassaSettings, service_for_robokassa};
use tolem_card_payments::robokassa::hash::HashAlgorithm;
use tolem_card_payments::{
    NotificationError, NotificationKind, PageLanguage, PaymentService, RefundProgress,
    ServiceConfig, ServiceError, Verdict, service_for,
};

async fn pay(fixture: &Fixture, invoice: u32, amount_tiyn: i64, card: &str) -> common::Page {
    let created = fixture
        .robokassa
        .create_order(&order(invoice, amount_tiyn, PageLanguage::En))
        .await
        .expect("the link is made");
    fixture
        .browser
        .pay(&created.redirect_url, card, "12/35", false)
        .await
}

async fn result_for(fixture: &Fixture, invoice: u32) -> tolem_card_payments::Notification {
    eventually("the ResultURL", || async {
        fixture.receiver.read_for(invoice).into_iter().next()
    })
    .await
}

#[tokio::test]
async fn a_paid_link_sends_result_url_and_returns_to_the_shop_signed() {
    let fixture = start(&[]).await;
    let answer = pay(&fixture, 201, 150_000, "4242424242424242").await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let location = url::Url::parse(answer.location.as_deref().unwrap()).unwrap();
    assert_eq!(location.path(), "/bills/201/paid");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("OutSum").as_deref(), Some("1500.00"));
    assert_eq!(get("InvId").as_deref(), Some("201"));
    assert_eq!(get("Culture").as_deref(), Some("en"));
    // A test payment's redirect, signed with the test Password #1.
    let expected = HashAlgorithm::Md5
        .hex("1500.00:201:test-password1")
        .to_uppercase();
    assert_eq!(get("SignatureValue"), Some(expected));

    let result = result_for(&fixture, 201).await;
    assert_eq!(result.kind, NotificationKind::Pay);
    assert_eq!(result.amount_tiyn, 150_000);
    assert_eq!(result.currency, "KZT");
    assert!(result.test);
    assert_eq!(result.email, None, "a test ResultURL carries no e-mail");
    let delivery = eventually("OK201 taken", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.answered)
    })
    .await;
    assert_eq!(delivery.attempts[0].answer.as_deref(), Some("OK201"));
}

#[tokio::test]
async fn amounts_round_trip_exactly() {
    let fixture = start(&[]).await;
    for (invoice, amount_tiyn) in [(202, 1), (203, 100_000_000)] {
        let answer = pay(&fixture, invoice, amount_tiyn, "4111111111111111").await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert_eq!(result_for(&fixture, invoice).await.amount_tiyn, amount_tiyn);
    }
    let amounts: Vec<String> = fixture
        .emulator
        .emulator
        .orders()
        .iter()
        .map(|o| o.amount.clone())
        .collect();
    assert_eq!(amounts, ["0.01", "1000000.00"]);
}

#[tokio::test]
async fn the_page_checks_the_link() {
    let fixture = start(&[]).await;
    let link = fixture
        .robokassa
        .create_order(&order(204, 10_000, PageLanguage::Ru))
        .await
        .unwrap()
        .redirect_url;
    let tampered = link.replace("OutSum=100.00", "OutSum=1.00");
    let page = fixture.browser.get(&tampered).await;
    assert!(
        page.body.contains("29: Неверный параметр SignatureValue"),
        "{}",
        page.body
    );
    let unknown_shop = link.replace("MerchantLogin=tolem-demo", "MerchantLogin=other");
    assert!(
        fixture
            .browser
            .get(&unknown_shop)
            .await
            .body
            .contains("26:")
    );

    let opened = fixture.browser.get(&link).await;
    assert_eq!(opened.status, 303);
    let card_page = fixture
        .browser
        .get(opened.location.as_deref().unwrap())
        .await;
    assert!(card_page.body.contains("Оплата картой"), "Russian page");
    fixture
        .browser
        .pay(&link, "4111111111111111", "12/35", false)
        .await;
    // The invoice is paid: the same link cannot take a second payment.
    assert!(fixture.browser.get(&link).await.body.contains("40:"));
}

#[tokio::test]
async fn a_refused_card_only_returns_to_the_fail_address() {
    let fixture = start(&[]).await;
    let page = pay(&fixture, 205, 10_000, "4000056655665556").await;
    assert_eq!(page.reason_code(), Some(5051), "{}", page.body);
    assert!(page.body.contains("Insufficient funds on the card"));
    let fail = url::Url::parse(&page.fail_link().expect("a link to FailUrl2")).unwrap();
    assert_eq!(fail.path(), "/bills/205/failed");
    assert!(fail.query().unwrap().contains("InvId=205"));
    assert!(
        fixture.emulator.emulator.deliveries().is_empty(),
        "no notification of a refusal"
    );
}

#[tokio::test]
async fn result_url_not_answered_ok_is_sent_again() {
    let fixture = start(&[]).await;
    fixture
        .receiver
        .script("robokassa", NotificationKind::Pay, &[Verdict::TryLater]);
    pay(&fixture, 206, 10_000, "4111111111111111").await;
    let delivery = eventually("OK206 taken", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.answered)
    })
    .await;
    let answers: Vec<Option<String>> = delivery.attempts.iter().map(|a| a.answer.clone()).collect();
    assert_eq!(answers, [Some("try later".into()), Some("OK206".into())]);
}

#[tokio::test]
async fn a_forged_result_url_is_refused() {
    let fixture = start(&[]).await;
    pay(&fixture, 207, 10_000, "4111111111111111").await;
    result_for(&fixture, 207).await;
    let forged = control_post(
        &fixture.emulator.url,
        "/control/notify",
        json!({"service": "robokassa", "invoice": "207", "kind": "result", "forge": true}),
    )
    .await;
    assert_eq!(forged["attempts"][0]["status"], 400);
    assert_eq!(forged["answered"], false);
    let refused = fixture
        .receiver
        .seen()
        .into_iter()
        .filter(|s| s.result == Err(NotificationError::BadSignature))
        .count();
    assert_eq!(refused, 1);
}

#[tokio::test]
async fn refunds_find_the_operation_and_happen_once() {
    let fixture = start(&[]).await;
    pay(&fixture, 208, 150_000, "4111111111111111").await;
    result_for(&fixture, 208).await;
    let first = fixture
        .robokassa
        .refund(208, None, 150_000, "refund-208")
        .await
        .unwrap();
    // Taken, not done: Refund/GetState says when it is.
    assert_eq!(first.progress, RefundProgress::Processing);
    let request_id = first.refund_id.clone().unwrap();
    assert_eq!(
        fixture.robokassa.refund_state(&request_id).await,
        Ok(RefundProgress::Finished)
    );
    // Repeated (same key, or a retry after a lost answer): already refunded, not twice.
    let again = fixture
        .robokassa
        .refund(208, None, 150_000, "refund-208")
        .await
        .unwrap();
    assert_eq!(again.refund_id, None);
    let refunds = fixture.emulator.emulator.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, "1500.00");
    assert_eq!(Some(refunds[0].id.clone()), first.refund_id);

    let unpaid = fixture.robokassa.refund(999, None, 100, "k").await;
    assert!(
        matches!(unpaid, Err(ServiceError::Refused(_))),
        "{unpaid:?}"
    );
    // Without Password #3 the adapter refuses to refund.
    let without_key = service_for(&fixture.emulator.robokassa_config()).unwrap();
    let refused = without_key.refund(208, None, 150_000, "k").await;
    assert!(
        matches!(refused, Err(ServiceError::Refused(_))),
        "{refused:?}"
    );
}

/// Robokassa carries a refund out after taking it: Refund/GetState says `processing` for as
/// long as the service takes, then `finished` — or `canceled`, and then the payment can be
/// refunded again (the money never left the shop). An id it does not know is an HTTP error to
/// ask again about, never a refusal.
#[tokio::test]
async fn a_refund_is_followed_until_the_service_finishes_or_cancels_it() {
    let fixture = start(&[]).await;
    pay(&fixture, 209, 150_000, "4111111111111111").await;
    result_for(&fixture, 209).await;
    control_post(
        &fixture.emulator.url,
        "/control/faults",
        json!({"refund_processing_checks": 2, "refund_cancel": true}),
    )
    .await;
    let taken = fixture
        .robokassa
        .refund(209, None, 150_000, "refund-209")
        .await
        .unwrap();
    assert_eq!(taken.progress, RefundProgress::Processing);
    let id = taken.refund_id.unwrap();
    let state = || fixture.robokassa.refund_state(&id);
    assert_eq!(state().await, Ok(RefundProgress::Processing));
    assert_eq!(state().await, Ok(RefundProgress::Processing));
    assert!(
        matches!(state().await, Ok(RefundProgress::Canceled(_))),
        "canceled after its checks"
    );
    assert!(matches!(state().await, Ok(RefundProgress::Canceled(_))));
    let refunds = control_get(&fixture.emulator.url, "/control/refunds").await;
    assert_eq!(refunds[0]["state"], "canceled");

    control_post(&fixture.emulator.url, "/control/faults", json!({})).await;
    let again = fixture
        .robokassa
        .refund(209, None, 150_000, "refund-209")
        .await
        .unwrap();
    assert_eq!(
        again.progress,
        RefundProgress::Processing,
        "the money is there"
    );
    assert_eq!(
        fixture
            .robokassa
            .refund_state(again.refund_id.as_deref().unwrap())
            .await,
        Ok(RefundProgress::Finished)
    );
    let unknown = fixture.robokassa.refund_state("no-such-request").await;
    assert!(
        matches!(&unknown, Err(error) if error.refusal().is_none()),
        "{unknown:?}"
    );
}

/// A Robokassa adapter at the fixture's emulator: `config` changed by `change`, the shop's
/// Password #3, and `hash`.
fn adapter_at(
    fixture: &Fixture,
    hash: HashAlgorithm,
    change: impl FnOnce(&mut ServiceConfig),
) -> Box<dyn PaymentService> {
    let mut config = fixture.emulator.robokassa_config();
    change(&mut config);
    let settings = RobokassaSettings {
        hash,
        ..fixture.emulator.robokassa_settings()
    };
    service_for_robokassa(&config, &settings).unwrap()
}

/// A shop whose technical settings say SHA256: the customer sent with the adapter's link gets
/// the card page (not error 29), pays, and comes back to the shop with a SHA256-signed
/// redirect. An adapter left at MD5 — all it could do before the setting — is refused, in
/// words the customer sees.
#[tokio::test]
async fn a_sha256_shop_takes_links_signed_with_sha256_and_refuses_md5_ones() {
    let fixture = start(&["--robokassa-hash", "sha256"]).await;
    let link = fixture
        .robokassa
        .create_order(&order(211, 150_000, PageLanguage::Ru))
        .await
        .unwrap()
        .redirect_url;
    let opened = fixture.browser.get(&link).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    let card_page = fixture
        .browser
        .get(opened.location.as_deref().unwrap())
        .await;
    assert!(
        card_page.body.contains("Оплата картой"),
        "{}",
        card_page.body
    );
    let paid = fixture
        .browser
        .pay(&link, "4111111111111111", "12/35", false)
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let back = url::Url::parse(paid.location.as_deref().unwrap()).unwrap();
    let signature_value = back
        .query_pairs()
        .find(|(name, _)| name == "SignatureValue")
        .map(|(_, value)| value.into_owned());
    assert_eq!(
        signature_value,
        Some(
            HashAlgorithm::Sha256
                .hex("1500.00:211:test-password1")
                .to_uppercase()
        )
    );
    assert_eq!(result_for(&fixture, 211).await.amount_tiyn, 150_000);

    let md5 = adapter_at(&fixture, HashAlgorithm::Md5, |_| {});
    let link = md5
        .create_order(&order(212, 10_000, PageLanguage::Ru))
        .await
        .unwrap()
        .redirect_url;
    let refused = fixture.browser.get(&link).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("29: Неверный параметр SignatureValue"),
        "{}",
        refused.body
    );
}

/// A shop set to SHA512 signs its ResultURL with SHA512: the adapter set the same reads it as
/// the payment and answers `OK{InvId}`, which ends the service's sending; one left at MD5
/// refuses every such notification as forged, and the service keeps sending.
#[tokio::test]
async fn a_sha512_shops_result_url_is_read_and_answered() {
    let fixture = start(&["--robokassa-hash", "sha512"]).await;
    pay(&fixture, 213, 150_000, "4111111111111111").await;
    let result = result_for(&fixture, 213).await;
    assert_eq!(
        (result.kind, result.amount_tiyn),
        (NotificationKind::Pay, 150_000)
    );
    let delivery = eventually("OK213 taken", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.answered)
    })
    .await;
    assert_eq!(delivery.attempts[0].answer.as_deref(), Some("OK213"));
    let body = &delivery.body;
    let md5 = adapter_at(&fixture, HashAlgorithm::Md5, |_| {});
    let incoming = tolem_card_payments::Incoming {
        path: "result",
        query: "",
        headers: &[],
        body: body.as_bytes(),
    };
    assert_eq!(
        md5.read_notification(&incoming),
        Err(NotificationError::BadSignature)
    );
}

/// Robokassa's test mode has its own Passwords #1 and #2: a test link signed with the working
/// Password #1 (what a gateway in test mode signed with when it had only one pair) is refused;
/// signed with the test one, it opens. A live link is still checked with the working one, and
/// its payment's ResultURL is signed with the working Password #2.
#[tokio::test]
async fn test_links_need_the_test_passwords_and_live_ones_the_working_ones() {
    let fixture = start(&[]).await;
    let working = |config: &mut ServiceConfig| {
        config.secret = fixture
            .emulator
            .emulator
            .settings
            .robokassa_password1
            .clone();
        config.secret2 = Some(
            fixture
                .emulator
                .emulator
                .settings
                .robokassa_password2
                .clone(),
        );
    };
    let test_with_working = adapter_at(&fixture, HashAlgorithm::Md5, working);
    let link = test_with_working
        .create_order(&order(214, 10_000, PageLanguage::Ru))
        .await
        .unwrap()
        .redirect_url;
    assert!(link.contains("IsTest=1"), "{link}");
    let refused = fixture.browser.get(&link).await;
    assert!(
        refused
            .body
            .contains("29: Неверный параметр SignatureValue"),
        "{}",
        refused.body
    );
    let paid = pay(&fixture, 214, 10_000, "4111111111111111").await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    assert!(result_for(&fixture, 214).await.test);

    let live = adapter_at(&fixture, HashAlgorithm::Md5, |config| {
        working(config);
        config.test = false;
    });
    let link = live
        .create_order(&order(215, 10_000, PageLanguage::Ru))
        .await
        .unwrap()
        .redirect_url;
    assert!(!link.contains("IsTest"), "{link}");
    let paid = fixture
        .browser
        .pay(&link, "4111111111111111", "12/35", false)
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let delivery = eventually("the live ResultURL", || async {
        fixture
            .emulator
            .emulator
            .deliveries()
            .into_iter()
            .find(|d| d.invoice == "215")
    })
    .await;
    let incoming = tolem_card_payments::Incoming {
        path: "result",
        query: "",
        headers: &[],
        body: delivery.body.as_bytes(),
    };
    let read = live.read_notification(&incoming).unwrap();
    assert!(!read.test);
    assert_eq!(
        fixture.robokassa.read_notification(&incoming),
        Err(NotificationError::BadSignature),
        "the test passwords do not check a live payment"
    );
}
