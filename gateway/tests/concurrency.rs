//! Guards the balance under concurrent payments over real HTTP: 3N payments from three points
//! fired at once at a balance that covers exactly N are N accepted and 2N refused with 21, the
//! balance ends at exactly 0 and never goes below it, and it always equals the sum of the
//! ledger; payments of different amounts racing for a balance take exactly what it allowed; the
//! same signed pay fired ten times at once is paid once and answered identically ten times.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicI64, Ordering},
};

use support::{
    Gateway, Reply,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tokio::sync::Barrier;
use tolem_protocol::{
    codes::ResultCode,
    messages::{Message, PaymentState, Step},
};

/// 1 000 tenge.
const THOUSAND: i64 = 100_000;

/// Signed pay requests (body and headers), ready to fire.
type Signed = (Vec<u8>, Vec<(&'static str, String)>);

fn signed_pay(phone: &Phone, account: &str, amount_tiyn: i64) -> Signed {
    let body = phone
        .request(Step::Pay(kcell(account, amount_tiyn)))
        .encode();
    let headers = phone.signature_headers(&phone.card.key_serial, &body);
    (body, headers)
}

/// Sends every request at the same moment (a barrier releases them together) and returns the
/// replies in the order given.
async fn fire(gateway: &Arc<Gateway>, requests: Vec<Signed>) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(body, headers)| {
            let (gateway, barrier) = (gateway.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                gateway.post("pay", body, &headers).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

/// Watches the dealer's balance until stopped; returns the lowest value seen.
fn watch_balance(gateway: &Arc<Gateway>) -> (Arc<AtomicBool>, tokio::task::JoinHandle<i64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let lowest = Arc::new(AtomicI64::new(i64::MAX));
    let (gateway, flag) = (gateway.clone(), stop.clone());
    let task = tokio::spawn(async move {
        while !flag.load(Ordering::Relaxed) {
            lowest.fetch_min(gateway.balance_of(DEALER).await, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
        lowest.load(Ordering::Relaxed)
    });
    (stop, task)
}

/// Three ready phones, one per point, all of the demo dealer.
async fn three_points(gateway: &Gateway) -> Vec<Phone> {
    let mut phones = vec![gateway.ready_phone(1).await];
    for (seed, point) in [(2, "P1002"), (3, "P1003")] {
        gateway.add_point(point).await;
        phones.push(gateway.ready_phone_of(point, seed).await);
    }
    phones
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_for_n_payments_pays_exactly_n_of_3n_at_once() {
    const N: usize = 20;
    let gateway = Arc::new(support::start().await);
    let phones = three_points(&gateway).await;
    gateway.set_balance(DEALER, N as i64 * THOUSAND).await;

    // Every payment to its own number, so the duplicate rule stays out of it.
    let requests = (0..3 * N)
        .map(|i| signed_pay(&phones[i % 3], &format!("70100{i:05}"), THOUSAND))
        .collect();
    let (stop, watcher) = watch_balance(&gateway);
    let replies = fire(&gateway, requests).await;
    stop.store(true, Ordering::Relaxed);
    let lowest = watcher.await.unwrap();

    let codes: Vec<ResultCode> = replies.iter().map(Reply::code).collect();
    let accepted = codes.iter().filter(|c| **c == ResultCode::Ok).count();
    let refused = codes
        .iter()
        .filter(|c| **c == ResultCode::InsufficientFunds)
        .count();
    assert_eq!((accepted, refused), (N, 2 * N), "{codes:?}");
    for reply in &replies {
        let expected = match reply.code() {
            ResultCode::Ok => PaymentState::Accepted,
            _ => PaymentState::Rejected,
        };
        assert_eq!(reply.receipt().state, expected);
    }
    assert_eq!(gateway.balance_of(DEALER).await, 0);
    assert!(lowest >= 0, "the balance went to {lowest}");
    assert_eq!(gateway.ledger_sum(DEALER).await, 0);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, N as i64);
    assert_eq!(gateway.payments_in("accepted").await, N as i64);
    assert_eq!(gateway.payments_in("rejected").await, 2 * N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_of_different_amounts_take_exactly_what_the_balance_allows() {
    let gateway = Arc::new(support::start().await);
    let phones = three_points(&gateway).await;
    let balance = 37 * THOUSAND + 5_000;
    gateway.set_balance(DEALER, balance).await;

    // 50 payments of 1 000 to 5 900 tenge: far more than the balance.
    let amounts: Vec<i64> = (0..50).map(|i| THOUSAND + (i % 50) * 10_000).collect();
    let requests = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| signed_pay(&phones[i % 3], &format!("70200{i:05}"), *amount))
        .collect();
    let replies = fire(&gateway, requests).await;

    let mut accepted_sum = 0;
    let mut smallest_refused = i64::MAX;
    for (reply, amount) in replies.iter().zip(&amounts) {
        match reply.code() {
            ResultCode::Ok => accepted_sum += amount,
            ResultCode::InsufficientFunds => smallest_refused = smallest_refused.min(*amount),
            other => panic!("unexpected {other:?}"),
        }
    }
    let left = gateway.balance_of(DEALER).await;
    assert_eq!(accepted_sum + left, balance);
    assert!(left >= 0);
    // Nothing was refused that the balance could still have paid: every refusal came when the
    // balance was already below its amount, and the balance only went down after that.
    assert!(
        smallest_refused > left,
        "{smallest_refused} refused with {left} left"
    );
    assert_eq!(gateway.ledger_sum(DEALER).await, left);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_session_fired_ten_times_at_once_is_paid_once() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(1).await;
    let before = gateway.balance_of(DEALER).await;
    let one = signed_pay(&phone, "7011234567", THOUSAND);

    let replies = fire(&gateway, vec![one; 10]).await;
    for reply in &replies {
        assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
        assert_eq!(
            reply.body, replies[0].body,
            "every answer is the same answer"
        );
    }
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 1);
    assert_eq!(gateway.payments_in("accepted").await, 1);
    assert_eq!(gateway.ledger_sum(DEALER).await, before - THOUSAND);
}
