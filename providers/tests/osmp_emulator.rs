//! Guards the OSMP client against the emulated provider over real HTTP: every result class,
//! idempotent pays, and each fault the gateway must survive (temporary answers, HTTP 500,
//! timeouts, late answers and answers cut after the commit, wrong credentials).

mod common;

use std::time::Duration;

use common::{Emulator, eventually};
use serde_json::json;
use tolem_protocol::messages::ProviderRefusal;
use tolem_providers::adapter::{Answer, CheckOrder, PayOrder, ProviderAdapter, TransportError};
use tolem_providers::client::OsmpAdapter;
use tolem_providers::connection::Auth;
use tolem_providers::osmp::Response;

const HOLDER: &str = "7011111111";
const PLAIN: &str = "7022222222";

fn pay(txn_id: u64, account: &str, amount_tiyn: i64) -> PayOrder {
    PayOrder {
        txn_id,
        txn_date_ms: 1_709_321_405_000,
        account: account.into(),
        amount_tiyn,
    }
}

fn check(txn_id: u64, account: &str, amount_tiyn: i64) -> CheckOrder {
    CheckOrder {
        txn_id,
        account: account.into(),
        amount_tiyn,
    }
}

fn accounts() -> Emulator {
    Emulator::start(&[
        "--account",
        &format!("{HOLDER}=Иванов И."),
        "--account",
        PLAIN,
        "--missing",
        "7055555555",
        "--inactive",
        "7079797979",
        "--forbidden",
        "7077777777",
        "--min-sum",
        "1.00",
        "--max-sum",
        "500000.00",
    ])
}

fn provider_txn(answer: &Answer) -> String {
    match answer {
        Answer::Accepted {
            provider_txn: Some(txn),
            ..
        } => txn.clone(),
        other => panic!("expected an accepted pay with prv_txn, got {other:?}"),
    }
}

#[tokio::test]
async fn pay_is_accepted_with_prv_txn_and_sum() {
    let emulator = accounts();
    let exchange = emulator.adapter().pay(&pay(1001, HOLDER, 10_45)).await;
    let answer = exchange.result.clone().expect("an answer");
    let prv_txn = provider_txn(&answer);
    assert!(
        exchange.request.starts_with("GET http://127.0.0.1:"),
        "{}",
        exchange.request
    );
    assert!(
        exchange.request.ends_with(
            "/osmp?command=pay&txn_id=1001&txn_date=20240302003005&account=7011111111&sum=10.45"
        ),
        "{}",
        exchange.request
    );
    let raw = Response::decode(exchange.response.as_deref().expect("a body")).unwrap();
    assert_eq!(raw.sum_tiyn, Some(10_45));
    assert_eq!(raw.osmp_txn_id.as_deref(), Some("1001"));
    let payment = emulator.payment(1001).await;
    assert_eq!(payment.prv_txn.map(|p| p.to_string()), Some(prv_txn));
    assert_eq!(
        (payment.account.as_str(), payment.sum_tiyn),
        (HOLDER, 10_45)
    );
    assert_eq!((payment.result, payment.pays_received), (Some(0), 1));
}

#[tokio::test]
async fn check_shows_the_holders_name() {
    let emulator = accounts();
    let adapter = emulator.adapter();
    let exchange = adapter.check(&check(2001, HOLDER, 100_00)).await;
    match exchange.result {
        Ok(Answer::Accepted { fields, .. }) => {
            assert_eq!(fields, vec![("fio".to_string(), "Иванов И.".to_string())]);
        }
        other => panic!("expected an accepted check, got {other:?}"),
    }
    let plain = adapter.check(&check(2002, PLAIN, 100_00)).await.result;
    assert!(
        matches!(plain, Ok(Answer::Accepted { ref fields, .. }) if fields.is_empty()),
        "{plain:?}"
    );
    assert!(
        emulator.payments().await.is_empty(),
        "a check committed something"
    );
}

#[tokio::test]
async fn refusals_carry_result_and_reason() {
    use ProviderRefusal as R;
    let emulator = accounts();
    let adapter = emulator.adapter();
    let cases = [
        ("70111x1111", 100_00, 4, R::BadAccountFormat),
        ("70111", 100_00, 4, R::BadAccountFormat),
        ("7055555555", 100_00, 5, R::AccountNotFound),
        ("7033333333", 100_00, 5, R::AccountNotFound),
        ("7077777777", 100_00, 7, R::PaymentForbidden),
        ("7079797979", 100_00, 79, R::AccountInactive),
        (HOLDER, 99, 241, R::AmountTooSmall),
        (HOLDER, 500_000_01, 242, R::AmountTooLarge),
    ];
    for (index, (account, amount, code, reason)) in cases.into_iter().enumerate() {
        let txn_id = 3000 + index as u64;
        for (command, result) in [
            (
                "check",
                adapter.check(&check(txn_id, account, amount)).await.result,
            ),
            (
                "pay",
                adapter.pay(&pay(txn_id, account, amount)).await.result,
            ),
        ] {
            match result {
                Ok(Answer::Refused {
                    result,
                    refusal,
                    comment,
                }) => {
                    assert_eq!(
                        (result, refusal),
                        (code, reason),
                        "{command} {account} {amount}"
                    );
                    assert!(comment.is_some(), "{command} {account}: no comment");
                }
                other => panic!("{command} {account} {amount}: expected {code}, got {other:?}"),
            }
        }
        let payment = emulator.payment(txn_id).await;
        assert_eq!(
            (payment.prv_txn, payment.result),
            (None, Some(code)),
            "{account}"
        );
    }
}

#[tokio::test]
async fn refused_pay_is_remembered() {
    let emulator = Emulator::start(&["--inactive", "7079797979"]);
    let adapter = emulator.adapter();
    for _ in 0..2 {
        let result = adapter.pay(&pay(4001, "7079797979", 100_00)).await.result;
        assert!(
            matches!(result, Ok(Answer::Refused { result: 79, .. })),
            "{result:?}"
        );
    }
    assert_eq!(emulator.payment(4001).await.pays_received, 2);
}

#[tokio::test]
async fn repeated_pay_gets_the_first_outcome() {
    let emulator = Emulator::start(&["--open"]);
    let adapter = emulator.adapter();
    let first = provider_txn(&adapter.pay(&pay(5001, PLAIN, 250_00)).await.result.unwrap());
    let other = provider_txn(&adapter.pay(&pay(5002, PLAIN, 250_00)).await.result.unwrap());
    let again = provider_txn(&adapter.pay(&pay(5001, PLAIN, 250_00)).await.result.unwrap());
    assert_eq!(first, again);
    assert_ne!(first, other);
    let payment = emulator.payment(5001).await;
    assert_eq!(
        (
            payment.pays_received,
            payment.prv_txn.map(|p| p.to_string())
        ),
        (2, Some(first))
    );
}

#[tokio::test]
async fn same_txn_id_with_another_sum_is_300() {
    let emulator = Emulator::start(&["--open"]);
    let adapter = emulator.adapter();
    let first = provider_txn(&adapter.pay(&pay(6001, PLAIN, 250_00)).await.result.unwrap());
    let result = adapter.pay(&pay(6001, PLAIN, 251_00)).await.result;
    match result {
        Ok(Answer::Refused {
            result: 300,
            refusal: ProviderRefusal::Other,
            comment,
        }) => {
            assert!(comment.is_some_and(|c| c.contains("6001")));
        }
        other => panic!("expected 300, got {other:?}"),
    }
    let other_account = adapter.pay(&pay(6001, HOLDER, 250_00)).await.result;
    assert!(
        matches!(other_account, Ok(Answer::Refused { result: 300, .. })),
        "{other_account:?}"
    );
    let payment = emulator.payment(6001).await;
    assert_eq!(payment.prv_txn.map(|p| p.to_string()), Some(first));
    assert_eq!((payment.sum_tiyn, payment.pays_received), (250_00, 3));
}

#[tokio::test]
async fn temporary_answers_then_accepted_after_the_window() {
    let emulator = Emulator::start(&["--open"]);
    let adapter = emulator.adapter();
    emulator
        .set_faults(json!({"temporary_for_ms": 1500, "temporary_result": 90}))
        .await;
    let first = adapter.pay(&pay(7001, PLAIN, 100_00)).await.result;
    assert!(
        matches!(first, Ok(Answer::Later { result: 90, .. })),
        "{first:?}"
    );
    let payment = emulator.payment(7001).await;
    assert_eq!(
        (payment.prv_txn, payment.result),
        (None, None),
        "committed during the window"
    );
    // Ask again with the same txn_id, as the gateway would, until the window is over.
    let prv_txn = eventually(Duration::from_secs(30), || async {
        match adapter.pay(&pay(7001, PLAIN, 100_00)).await.result {
            Ok(Answer::Later { result: 90, .. }) => None,
            Ok(accepted @ Answer::Accepted { .. }) => Some(provider_txn(&accepted)),
            other => panic!("expected 90 or 0, got {other:?}"),
        }
    })
    .await;
    let payment = emulator.payment(7001).await;
    assert_eq!(payment.prv_txn.map(|p| p.to_string()), Some(prv_txn));
    assert!(payment.pays_received >= 2);
}

#[tokio::test]
async fn status_500_commits_nothing() {
    let emulator = Emulator::start(&["--open", "--status-500-rate", "1.0"]);
    let adapter = emulator.adapter();
    let exchange = adapter.pay(&pay(8001, PLAIN, 100_00)).await;
    assert_eq!(exchange.result, Err(TransportError::Status(500)));
    let payment = emulator.payment(8001).await;
    assert_eq!(
        (payment.prv_txn, payment.result, payment.pays_received),
        (None, None, 1)
    );
    emulator.set_faults(json!({})).await;
    let retried = adapter.pay(&pay(8001, PLAIN, 100_00)).await.result.unwrap();
    assert_eq!(
        Some(provider_txn(&retried)),
        emulator.payment(8001).await.prv_txn.map(|p| p.to_string())
    );
}

#[tokio::test]
async fn slow_answer_times_out() {
    let emulator = Emulator::start(&["--open", "--delay-ms", "5000"]);
    let adapter = OsmpAdapter::new(&emulator.connection(Auth::None, 300)).unwrap();
    let exchange = adapter.check(&check(9001, PLAIN, 100_00)).await;
    assert_eq!(exchange.result, Err(TransportError::Timeout));
    assert_eq!(exchange.response, None);
    // It waited its timeout and no longer (the answer would have taken 5 s): that the
    // answer did not come is the `Timeout` above, not a measured duration.
    assert!(exchange.latency_ms >= 300, "{}", exchange.latency_ms);
}

/// A provider that takes the payment and answers late: the client gives up (a timeout, a
/// temporary failure), the payment is committed all the same, and the repeat with the same
/// number gets it — what a repeat with a new number would pay a second time.
#[tokio::test]
async fn a_late_answer_after_the_commit_leaves_the_payment_made() {
    // The client waits long enough for any machine to have committed (the emulator commits
    // as the request arrives), and far less than the emulator's answer takes.
    let emulator = Emulator::start(&["--open", "--delay-ms", "60000", "--delay-after-commit"]);
    let adapter = OsmpAdapter::new(&emulator.connection(Auth::None, 5_000)).unwrap();
    let late = adapter.pay(&pay(9_101, PLAIN, 100_00)).await.result;
    assert_eq!(late, Err(TransportError::Timeout));
    let committed = emulator.payment(9_101).await;
    assert_eq!((committed.result, committed.pays_received), (Some(0), 1));
    emulator.set_faults(json!({})).await;
    let repeat = adapter
        .pay(&pay(9_101, PLAIN, 100_00))
        .await
        .result
        .unwrap();
    assert_eq!(
        Some(provider_txn(&repeat)),
        committed.prv_txn.map(|n| n.to_string())
    );
    assert_eq!(emulator.payments().await.len(), 1);
}

#[tokio::test]
async fn cut_after_commit_then_the_repeat_gets_the_committed_prv_txn() {
    let emulator = Emulator::start(&["--open", "--cut-after-commit-rate", "1.0"]);
    let adapter = emulator.adapter();
    let cut = adapter.pay(&pay(10_001, PLAIN, 100_00)).await.result;
    assert!(matches!(cut, Err(TransportError::Connect(_))), "{cut:?}");
    let committed = emulator.payment(10_001).await;
    assert_eq!(committed.result, Some(0));
    let committed_prv_txn = committed
        .prv_txn
        .expect("committed before the cut")
        .to_string();
    emulator.set_faults(json!({})).await;
    let repeat = adapter
        .pay(&pay(10_001, PLAIN, 100_00))
        .await
        .result
        .unwrap();
    assert_eq!(provider_txn(&repeat), committed_prv_txn);
    assert_eq!(emulator.payment(10_001).await.pays_received, 2);
    assert_eq!(emulator.payments().await.len(), 1);
}

#[tokio::test]
async fn basic_auth_is_required_and_never_shown() {
    let emulator = Emulator::start(&["--open", "--username", "tolem", "--password", "s3cr3t-pw"]);
    let basic = |password: &str| Auth::Basic {
        username: "tolem".into(),
        password: password.into(),
    };
    for auth in [Auth::None, basic("wrong-pw")] {
        let adapter = OsmpAdapter::new(&emulator.connection(auth, 20_000)).unwrap();
        let exchange = adapter.check(&check(11_001, PLAIN, 100_00)).await;
        assert_eq!(exchange.result, Err(TransportError::Status(401)));
    }
    let connection = emulator.connection(basic("s3cr3t-pw"), 20_000);
    let adapter = OsmpAdapter::new(&connection).unwrap();
    let exchange = adapter.pay(&pay(11_002, PLAIN, 100_00)).await;
    assert!(
        matches!(exchange.result, Ok(Answer::Accepted { .. })),
        "{:?}",
        exchange.result
    );
    for shown in [
        format!("{connection:?}"),
        connection.to_string(),
        exchange.request.clone(),
    ] {
        assert!(
            !shown.contains("s3cr3t-pw"),
            "the password shows in {shown}"
        );
    }
    assert!(format!("{connection:?}").contains("***"));
}

#[tokio::test]
async fn malformed_requests_are_answered_300() {
    let emulator = Emulator::start(&["--open"]);
    let body = reqwest::get(format!(
        "{}/osmp?command=pay&txn_id=x&account=1&sum=1.00",
        emulator.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let answer = Response::decode(&body).unwrap();
    assert_eq!(answer.result, 300);
    assert!(answer.comment.is_some_and(|c| c.contains("txn_id")));
}

#[tokio::test]
async fn faults_are_shown_as_set() {
    let emulator = Emulator::start(&["--delay-ms", "7"]);
    let get = || async {
        let response = reqwest::get(format!("{}/control/faults", emulator.base))
            .await
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).unwrap()
    };
    assert_eq!(get().await["delay_ms"], 7);
    emulator
        .set_faults(json!({"status_500_rate": 0.5, "seed": 9}))
        .await;
    let faults = get().await;
    assert_eq!(
        (
            faults["status_500_rate"].as_f64(),
            faults["delay_ms"].as_u64()
        ),
        (Some(0.5), Some(0))
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/control/faults", emulator.base))
        .header("content-type", "application/json")
        .body(json!({"temporary_result": 5}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let health = reqwest::get(format!("{}/control/health", emulator.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
