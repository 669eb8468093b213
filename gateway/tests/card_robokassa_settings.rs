//! Guards the Robokassa settings that must match the shop's technical settings, given to the
//! gateway by its own flags and checked against the emulator over real HTTP: a shop whose
//! signatures use SHA-256 or SHA-512 is paid through, and its ResultURL settles the bill
//! (`--card-hash`); a gateway left at MD5 for a SHA-256 shop sends the customer to the
//! service's refusal (error 29) and settles nothing; in test mode the gateway signs with the
//! shop's test passwords (`--card-test-secret`, `--card-test-secret2`) — with the working
//! ones the test payment is refused — and it does not start without them.

mod support;

use std::time::{Duration, Instant};

use support::{
    card::{CardFixture, bill, start_robokassa_configured},
    phone::Phone,
};
use tolem_gateway::card::CardConfigError;
use tolem_protocol::{
    codes::ResultCode,
    messages::{Outcome, Payment, PaymentMethod, Request},
};

/// 1 000 tenge to Kcell, 20 tenge of commission.
fn payment(account: &str) -> Payment {
    Payment {
        provider: "kcell".into(),
        account: account.into(),
        amount_tiyn: 100_000,
        customer_amount_tiyn: 102_000,
        comment: None,
    }
}

/// A card the emulator approves without 3-D Secure.
const GOOD_CARD: &str = "4111 1111 1111 1111";
const PATIENCE: Duration = Duration::from_secs(30);

/// The emulated shop's passwords (the emulator's defaults).
const WORKING: [&str; 6] = [
    "--card-secret",
    "password1",
    "--card-secret2",
    "password2",
    "--card-secret3",
    "password3",
];
const TEST: [&str; 5] = [
    "--card-test",
    "--card-test-secret",
    "test-password1",
    "--card-test-secret2",
    "test-password2",
];

/// A gateway configured by `flags` (beside the shop's working and test passwords, in test
/// mode) for an emulated shop started with `emulator_args`, and a phone of its point.
async fn fixture(emulator_args: &[&str], flags: &[&str]) -> (CardFixture, Phone) {
    let all: Vec<&str> = WORKING
        .iter()
        .chain(TEST.iter())
        .chain(flags)
        .copied()
        .collect();
    let fixture = start_robokassa_configured(emulator_args, &all)
        .await
        .expect("the gateway starts");
    let phone = fixture.gateway.ready_phone(1).await;
    (fixture, phone)
}

/// The customer opens the bill and asks to pay: where the gateway sends them.
async fn service_page(fx: &CardFixture, token: &str) -> String {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/bill/{token}", fx.gateway.url))
        .form(&[("email", "buyer@example.kz")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// `status` of the bill's session once it is no longer "not paid", as the cashier's phone polls.
async fn settled(fx: &CardFixture, phone: &Phone, request: &Request) -> Option<Outcome> {
    let started = Instant::now();
    loop {
        let response = fx.gateway.status(phone, request).await.response();
        if response.code == ResultCode::Ok {
            return response.outcome;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "status stayed {:?}",
            response.code
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The customer pays the bill for `account` on the shop's page; its ResultURL settles it.
async fn paid_and_settled(fx: &CardFixture, phone: &Phone, account: &str) {
    let (request, token) = bill(phone, payment(account));
    let page = service_page(fx, &token).await;
    let paid = fx.customer.pay(&page, GOOD_CARD, "12/30", false).await;
    assert_eq!(paid.status, 303, "back to the gateway: {}", paid.body);
    let outcome = settled(fx, phone, &request).await;
    assert!(
        matches!(outcome, Some(Outcome::Payment(ref r)) if r.method == PaymentMethod::Card),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_sha256_shop_is_paid_through_a_gateway_set_to_sha256() {
    let (fx, phone) = fixture(&["--robokassa-hash", "sha256"], &["--card-hash", "sha256"]).await;
    paid_and_settled(&fx, &phone, "7011234580").await;
}

#[tokio::test]
async fn a_sha512_shops_result_url_settles_the_bill() {
    let (fx, phone) = fixture(&["--robokassa-hash", "sha512"], &["--card-hash", "SHA512"]).await;
    paid_and_settled(&fx, &phone, "7011234581").await;
    let delivery = fx
        .emulator
        .emulator
        .deliveries()
        .into_iter()
        .find(|d| d.answered)
        .expect("the ResultURL was taken");
    assert!(
        delivery.attempts.iter().any(|a| a.status == Some(200)),
        "{delivery:?}"
    );
}

/// The hash left at its default, MD5, for a shop set to SHA-256: the customer is shown the
/// service's refusal of the link, and the bill stays unpaid.
#[tokio::test]
async fn a_gateway_at_md5_is_refused_by_a_sha256_shop_visibly() {
    let (fx, phone) = fixture(&["--robokassa-hash", "sha256"], &[]).await;
    let (request, token) = bill(&phone, payment("7011234582"));
    let page = service_page(&fx, &token).await;
    let refusal = fx.customer.get(&page).await;
    assert_eq!(refusal.status, 400);
    assert!(
        refusal
            .body
            .contains("29: Неверный параметр SignatureValue"),
        "{}",
        refusal.body
    );
    assert!(fx.emulator.emulator.orders().is_empty());
    let response = fx.gateway.status(&phone, &request).await.response();
    assert_eq!(response.code, ResultCode::BillNotPaid);
}

/// Test mode signs with the shop's test passwords: given the working ones in their place —
/// what the gateway signed test links with when it had one pair — the test payment's link is
/// refused.
#[tokio::test]
async fn test_mode_signs_with_the_test_passwords() {
    let (fx, phone) = fixture(&[], &[]).await;
    paid_and_settled(&fx, &phone, "7011234583").await;

    let working_as_test = [
        "--card-test",
        "--card-test-secret",
        "password1",
        "--card-test-secret2",
        "password2",
    ];
    let fx = start_robokassa_configured(&[], &working_as_test)
        .await
        .expect("the gateway starts");
    let phone = fx.gateway.ready_phone(1).await;
    let (_, token) = bill(&phone, payment("7011234584"));
    let page = service_page(&fx, &token).await;
    assert!(page.contains("IsTest=1"), "{page}");
    let refusal = fx.customer.get(&page).await;
    assert!(
        refusal
            .body
            .contains("29: Неверный параметр SignatureValue"),
        "{}",
        refusal.body
    );
}

#[tokio::test]
async fn test_mode_does_not_start_without_the_test_passwords() {
    let only_one = ["--card-test", "--card-test-secret", "test-password1"];
    for flags in [&WORKING[..], &only_one[..]] {
        let mut with_test = flags.to_vec();
        if !with_test.contains(&"--card-test") {
            with_test.push("--card-test");
        }
        let error = start_robokassa_configured(&[], &with_test)
            .await
            .err()
            .expect("refused at start");
        assert!(
            matches!(error, CardConfigError::MissingTestPassword(_)),
            "{error:?}"
        );
        assert!(error.to_string().contains("--card-test-secret"), "{error}");
    }
}
