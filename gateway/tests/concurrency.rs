//! Guards the balance under concurrent payments over real HTTP: 3N payments from three points
//! fired at once at a balance that covers exactly N are N accepted and 2N refused with 21, the
//! balance ends at exactly 0 and never goes below it, and it always equals the sum of the
//! ledger; payments of different amounts racing for a balance take exactly what it allowed; the
//! same signed pay fired ten times at once is paid once and answered identically ten times.
//! And the group commit (issue 14 item 4): payments piled up into one group, in a known order,
//! end exactly as they would one at a time — a daily limit or the balance running out in the
//! middle, the same session twice, a replay, a point blocked while the group waits — with the
//! dealer's transaction numbers consecutive (a payment that stores nothing takes no number);
//! and on PostgreSQL, a payment after the server dropped the writer's own connection, and a
//! dealer's row held by another transaction holding up that dealer's payments only.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use sqlx::{AnyConnection, Connection};
use support::{
    Gateway, Reply,
    held::Held,
    payments::{DEALER, kcell},
    phone::Phone,
};
use tokio::sync::Barrier;
use tolem_gateway::payments::group::HeldDealers;
use tolem_protocol::{
    codes::ResultCode,
    messages::{Message, Outcome, PaymentState, Request, Step},
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
            reply.decision(),
            replies[0].decision(),
            "every answer is the same decision"
        );
    }
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 1);
    assert_eq!(gateway.payments_in("accepted").await, 1);
    assert_eq!(gateway.ledger_sum(DEALER).await, before - THOUSAND);
}

// ---------------------------------------------------------------------------------------------
// Group commit (issue 14 item 4): payments that wait together are decided together, in one
// transaction, on figures read once and kept current in memory. The tests below pile payments up into one group in a
// known order — the writer is held on a database lock while they queue, one after another —
// and check that every one ends exactly as it would have alone, one at a time: the same codes
// in the same order, the same stored rows, and the dealer's transaction numbers consecutive (a
// payment that stores nothing must give its number back, as its rollback did alone).
// ---------------------------------------------------------------------------------------------

/// Waits (without a fixed sleep: it polls) until `done`, or fails saying what it waited for.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// `request` of `phone`, signed.
fn sign(phone: &Phone, request: &Request) -> Signed {
    let body = request.encode();
    let headers = phone.signature_headers(&phone.card.key_serial, &body);
    (body, headers)
}

fn post(gateway: &Arc<Gateway>, (body, headers): Signed) -> tokio::task::JoinHandle<Reply> {
    let gateway = gateway.clone();
    tokio::spawn(async move { gateway.post("pay", body, &headers).await })
}

/// Decides `group` as ONE group, in the order given: `first` is sent and held (the writer
/// waits for the test's lock with it), then every payment of `group` is queued behind it one
/// after another, then `while_held` runs in the held transaction and the lock is let go.
/// Returns the reply to `first` and the replies to `group`, in order.
async fn one_group(
    gateway: &Arc<Gateway>,
    first: Signed,
    group: Vec<Signed>,
    while_held: &[&str],
) -> (Reply, Vec<Reply>) {
    let mut held = Held::take(gateway).await;
    let first = post(gateway, first);
    until("the writer holds the first payment", || {
        gateway.payments.deciding() == 1
    })
    .await;
    let mut queued = Vec::new();
    for (i, signed) in group.into_iter().enumerate() {
        queued.push(post(gateway, signed));
        until(&format!("payment {i} of the group is queued"), || {
            gateway.payments.waiting() == i + 1
        })
        .await;
    }
    for statement in while_held {
        held.run(statement).await;
    }
    held.release().await;
    let first = first.await.unwrap();
    let mut replies = Vec::new();
    for reply in queued {
        replies.push(reply.await.unwrap());
    }
    (first, replies)
}

fn codes(replies: &[Reply]) -> Vec<ResultCode> {
    replies.iter().map(Reply::code).collect()
}

/// The transaction ids of the replies that carry a receipt.
fn transaction_ids<'a>(replies: impl IntoIterator<Item = &'a Reply>) -> Vec<String> {
    replies
        .into_iter()
        .filter(|reply| matches!(reply.response().outcome, Some(Outcome::Payment(_))))
        .map(|reply| reply.receipt().transaction_id)
        .collect()
}

/// `D001-from` … `D001-to`.
fn numbered(from: i64, to: i64) -> Vec<String> {
    (from..=to).map(|n| format!("{DEALER}-{n}")).collect()
}

/// Every stored payment's transaction id, by number: consecutive from 1 when no number was
/// lost.
async fn stored_transaction_ids(gateway: &Gateway) -> Vec<String> {
    let mut ids: Vec<String> = sqlx::query_scalar("SELECT transaction_id FROM payments")
        .fetch_all(&gateway.pool)
        .await
        .unwrap();
    ids.sort_by_key(|id| id.rsplit('-').next().unwrap().parse::<i64>().unwrap());
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_reached_in_the_middle_of_a_group_accepts_exactly_what_fits_in_order() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(11).await;
    gateway
        .sql("UPDATE points SET daily_limit_tiyn = 1000000 WHERE code = 'P1001'")
        .await;
    let first = signed_pay(&phone, "7013000000", THOUSAND);
    // 1 000 tenge already today, then 3 000, 4 000 (8 000), 3 000 (over 10 000: 82), 2 000
    // (exactly 10 000), 1 000 (over: 82) — a later smaller one still fits, as one at a time.
    let amounts = [3, 4, 3, 2, 1].map(|n| n * THOUSAND);
    let group = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| signed_pay(&phone, &format!("701300000{}", i + 1), *amount))
        .collect();
    let (first, replies) = one_group(&gateway, first, group, &[]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    use ResultCode::{Ok, PointDailyLimit as Limit};
    assert_eq!(codes(&replies), [Ok, Ok, Limit, Ok, Limit]);
    // Decided in the order they came, each with the next number: rejected ones are stored too.
    assert_eq!(transaction_ids(&replies), numbered(2, 6));
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 6));
    assert_eq!(gateway.payments_in("accepted").await, 4);
    assert_eq!(gateway.payments_in("rejected").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_exhausted_in_the_middle_of_a_group_refuses_the_rest_with_21() {
    let gateway = Arc::new(support::start().await);
    let phones = three_points(&gateway).await;
    gateway.set_balance(DEALER, 5 * THOUSAND).await;
    let first = signed_pay(&phones[0], "7014000000", THOUSAND);
    let group = (0..10)
        .map(|i| signed_pay(&phones[i % 3], &format!("70140000{:02}", i + 1), THOUSAND))
        .collect();
    let (stop, watcher) = watch_balance(&gateway);
    let (first, replies) = one_group(&gateway, first, group, &[]).await;
    stop.store(true, Ordering::Relaxed);
    let lowest = watcher.await.unwrap();

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    let expected: Vec<ResultCode> = (0..10)
        .map(|i| match i {
            0..4 => ResultCode::Ok,
            _ => ResultCode::InsufficientFunds,
        })
        .collect();
    assert_eq!(codes(&replies), expected);
    assert_eq!(transaction_ids(&replies), numbered(2, 11));
    assert_eq!(gateway.balance_of(DEALER).await, 0);
    assert!(lowest >= 0, "the balance went to {lowest}");
    assert_eq!(gateway.ledger_sum(DEALER).await, 0);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 5);
    assert_eq!(gateway.payments_in("rejected").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_session_twice_in_one_group_is_stored_once_and_answered_identically() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(12).await;
    let before = gateway.balance_of(DEALER).await;
    let twice = phone.request(Step::Pay(kcell("7015000001", THOUSAND)));
    // The same session with other content: 1, nothing stored.
    let mut other = phone.request(Step::Pay(kcell("7015000001", 2 * THOUSAND)));
    other.session = twice.session.clone();
    let group = vec![
        sign(&phone, &twice),
        signed_pay(&phone, "7015000002", THOUSAND),
        sign(&phone, &twice),
        sign(&phone, &other),
        signed_pay(&phone, "7015000003", THOUSAND),
    ];
    let first = signed_pay(&phone, "7015000000", THOUSAND);
    let (first, replies) = one_group(&gateway, first, group, &[]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    use ResultCode::{Ok, SessionExists};
    assert_eq!(codes(&replies), [Ok, Ok, Ok, SessionExists, Ok]);
    assert_eq!(
        replies[2].decision(),
        replies[0].decision(),
        "the same decision"
    );
    // The replay and the refusal gave their numbers back: no gap.
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 4));
    assert_eq!(
        transaction_ids([&replies[0], &replies[1], &replies[4]]),
        numbered(2, 4)
    );
    assert_eq!(gateway.balance_of(DEALER).await, before - 4 * THOUSAND);
    assert_eq!(gateway.ledger_entries(DEALER, "payment").await, 4);
    assert_eq!(gateway.ledger_sum(DEALER).await, before - 4 * THOUSAND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_a_decided_session_inside_a_group_gets_its_stored_answer() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(13).await;
    let decided = signed_pay(&phone, "7016000001", THOUSAND);
    let earlier = gateway.post("pay", decided.0.clone(), &decided.1).await;
    assert_eq!(earlier.code(), ResultCode::Ok, "{}", earlier.text());
    let before = gateway.balance_of(DEALER).await;

    let first = signed_pay(&phone, "7016000000", THOUSAND);
    let group = vec![
        signed_pay(&phone, "7016000002", THOUSAND),
        decided,
        signed_pay(&phone, "7016000003", THOUSAND),
    ];
    let (first, replies) = one_group(&gateway, first, group, &[]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    assert_eq!(codes(&replies), [ResultCode::Ok; 3]);
    assert_eq!(
        replies[1].decision(),
        earlier.decision(),
        "the stored decision"
    );
    assert_eq!(
        transaction_ids([&first, &replies[0], &replies[2]]),
        numbered(2, 4)
    );
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 4));
    assert_eq!(gateway.balance_of(DEALER).await, before - 3 * THOUSAND);
    assert_eq!(gateway.ledger_sum(DEALER).await, before - 3 * THOUSAND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_blocked_while_its_group_waits_is_refused_and_the_others_are_paid() {
    let gateway = Arc::new(support::start().await);
    let phones = three_points(&gateway).await;
    let before = gateway.balance_of(DEALER).await;
    let first = signed_pay(&phones[0], "7017000000", THOUSAND);
    // Points P1001 and P1002 alternate; P1002 is blocked while the group waits for the lock.
    let group = (0..6)
        .map(|i| signed_pay(&phones[i % 2], &format!("70170000{:02}", i + 1), THOUSAND))
        .collect();
    let block = "UPDATE points SET active = 0 WHERE code = 'P1002'";
    let (first, replies) = one_group(&gateway, first, group, &[block]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    use ResultCode::{Ok, PointBlocked as Blocked};
    assert_eq!(codes(&replies), [Ok, Blocked, Ok, Blocked, Ok, Blocked]);
    // Refused with nothing stored, and no number taken: the others' numbers run on.
    assert_eq!(transaction_ids(&replies), numbered(2, 4));
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 4));
    assert_eq!(gateway.payments_in("accepted").await, 4);
    assert_eq!(gateway.payments_in("rejected").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, before - 4 * THOUSAND);
    assert_eq!(gateway.ledger_sum(DEALER).await, before - 4 * THOUSAND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_switched_off_while_its_payments_wait_refuses_them_with_914() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(15).await;
    let before = gateway.balance_of(DEALER).await;
    let first = signed_pay(&phone, "7017100000", THOUSAND);
    // Kcell and activ alternate; the operator switches activ off while the group waits.
    let group = (0..6)
        .map(|i| {
            let mut payment = kcell(&format!("70171000{:02}", i + 1), THOUSAND);
            if i % 2 == 1 {
                payment.provider = "activ".into();
            }
            let body = phone.request(Step::Pay(payment)).encode();
            let headers = phone.signature_headers(&phone.card.key_serial, &body);
            (body, headers)
        })
        .collect();
    let switch_off = "UPDATE providers SET active = 0 WHERE code = 'activ'";
    let (first, replies) = one_group(&gateway, first, group, &[switch_off]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    use ResultCode::{Ok, ProviderDisabled as Off};
    // Decided on the catalogue it commits on: stored rejected, as a payment to a provider
    // switched off before it came would be.
    assert_eq!(codes(&replies), [Ok, Off, Ok, Off, Ok, Off]);
    assert_eq!(gateway.payments_in("accepted").await, 4);
    assert_eq!(gateway.payments_in("rejected").await, 3);
    assert_eq!(gateway.balance_of(DEALER).await, before - 4 * THOUSAND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_hangs_up_while_its_payment_waits_still_has_it_decided() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(14).await;
    let request = phone.request(Step::Pay(kcell("7018000001", THOUSAND)));
    let held = Held::take(&gateway).await;
    let hung_up = post(&gateway, sign(&phone, &request));
    until("the writer holds the payment", || {
        gateway.payments.deciding() == 1
    })
    .await;
    // The phone gives up: its connection goes, nobody waits for the answer any more.
    hung_up.abort();
    held.release().await;
    until("the writer is done", || gateway.payments.deciding() == 0).await;

    // When it asks later, the payment was decided all the same.
    let status = gateway.status(&phone, &request).await;
    assert_eq!(status.code(), ResultCode::Ok, "{}", status.text());
    assert_eq!(status.receipt().state, PaymentState::Accepted);
    assert_eq!(status.receipt().transaction_id, format!("{DEALER}-1"));
}

/// Makes SQLite refuse every insert into `table` whose new row meets `when`, as a failing disk
/// or a bug would: the trigger `refuse_<table>`.
async fn refuse_inserts(gateway: &Gateway, table: &str, when: &str) {
    sqlx::query(&format!(
        "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when} \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ))
    .execute(&gateway.pool)
    .await
    .unwrap();
}

/// A delivery outcome that cannot be written, riding with a payment group on SQLite, is
/// reported not recorded, and the group's payments stand: a payment never fails for a
/// delivery's sake. (Its writes are rolled back to a savepoint of their own.)
#[tokio::test]
async fn a_delivery_write_that_fails_in_a_payment_group_leaves_the_payments_standing() {
    use tolem_gateway::{
        db::deliveries::Attempt,
        delivery::riders::{Delivered, Outcome},
    };

    let gateway = Arc::new(support::start().await);
    if !gateway.database_url.starts_with("sqlite:") {
        eprintln!("deliveries ride with payment groups on SQLite only; skipped");
        return;
    }
    let phone = gateway.ready_phone(15).await;
    refuse_inserts(
        &gateway,
        "delivery_attempts",
        "NEW.transaction_id = 'T-REFUSED'",
    )
    .await;
    let before = gateway.balance_of(DEALER).await;

    // The payment waits for the write lock; the outcome arrives meanwhile and waits for it too.
    let held = Held::take(&gateway).await;
    let request = phone.request(Step::Pay(kcell("7018000015", THOUSAND)));
    let paid = post(&gateway, sign(&phone, &request));
    until("the writer holds the payment", || {
        gateway.payments.deciding() == 1
    })
    .await;
    let riders = gateway.delivery_queue.riders.clone();
    let pool = gateway.pool.clone();
    let outcome = tokio::spawn(async move {
        let delivered = Delivered {
            transaction_id: "T-REFUSED".to_owned(),
            attempt: Attempt {
                attempt: 1,
                at_ms: 0,
                request: "GET /pay".to_owned(),
                answer: None,
                outcome: "delivered".to_owned(),
                result_code: Some(0),
                error: None,
                latency_ms: 1,
            },
            provider_txn: Some("P-1".to_owned()),
            comment: None,
            at_ms: 0,
        };
        riders.record(&pool, Outcome::Delivered(delivered)).await
    });
    // The test's runtime has one thread: the spawned task puts the outcome in line here.
    tokio::task::yield_now().await;
    held.release().await;

    let paid = paid.await.unwrap();
    assert_eq!(paid.code(), ResultCode::Ok, "{}", paid.text());
    let outcome = outcome.await.unwrap();
    assert!(outcome.is_err(), "a refused write was reported recorded");
    assert_eq!(gateway.payments_in("accepted").await, 1);
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_attempts")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0);
    // And the writer goes on: the next payment is decided as usual.
    let again = phone.request(Step::Pay(kcell("7018000016", THOUSAND)));
    let reply = post(&gateway, sign(&phone, &again)).await.unwrap();
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
}

/// A payment group whose write fails stores nothing of it, although on SQLite its commit was
/// sent in the same trip as the writes: the phone hears 999 and may send the payment again,
/// and the writer goes on with the next group (its connection, left inside the failed
/// transaction, is closed and replaced).
#[tokio::test]
async fn a_group_whose_write_fails_stores_nothing_and_the_writer_goes_on() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(16).await;
    if !gateway.database_url.starts_with("sqlite:") {
        eprintln!("the commit rides with the writes on SQLite only; skipped");
        return;
    }
    refuse_inserts(&gateway, "payments", "NEW.account = '7018000017'").await;
    let before = gateway.balance_of(DEALER).await;

    let request = phone.request(Step::Pay(kcell("7018000017", THOUSAND)));
    let failed = post(&gateway, sign(&phone, &request)).await.unwrap();
    assert_eq!(failed.code(), ResultCode::Internal, "{}", failed.text());
    assert_eq!(gateway.balance_of(DEALER).await, before);
    assert_eq!(stored_transaction_ids(&gateway).await, Vec::<String>::new());

    // The next payment is decided as usual, and so is the first one sent again.
    let other = phone.request(Step::Pay(kcell("7018000018", THOUSAND)));
    let reply = post(&gateway, sign(&phone, &other)).await.unwrap();
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    sqlx::query("DROP TRIGGER refuse_payments")
        .execute(&gateway.pool)
        .await
        .unwrap();
    let again = post(&gateway, sign(&phone, &request)).await.unwrap();
    assert_eq!(again.code(), ResultCode::Ok, "{}", again.text());
    assert_eq!(gateway.balance_of(DEALER).await, before - 2 * THOUSAND);
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 2));
}

/// PostgreSQL's payment writer keeps a connection of its own between groups: when the server
/// has dropped it meanwhile (a restart, an administrator ending sessions), the next payment is
/// still decided — the writer finds it gone before the group and opens another.
#[tokio::test]
async fn a_payment_after_the_server_dropped_the_writers_connection_is_decided() {
    let gateway = Arc::new(support::start().await);
    let phone = gateway.ready_phone(17).await;
    if gateway.database_url.starts_with("sqlite:") {
        eprintln!("the writer's own connection is PostgreSQL's; skipped");
        return;
    }
    let first = phone.request(Step::Pay(kcell("7018000021", THOUSAND)));
    let reply = post(&gateway, sign(&phone, &first)).await.unwrap();
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());

    // Every session of the gateway ends, the writer's among them.
    let mut admin = AnyConnection::connect(&gateway.database_url).await.unwrap();
    let others = "FROM pg_stat_activity WHERE datname = current_database() \
                  AND pid <> pg_backend_pid() AND backend_type = 'client backend'";
    let pids: Vec<i32> = sqlx::query_scalar(&format!("SELECT pid {others}"))
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert!(!pids.is_empty(), "the gateway holds connections");
    sqlx::query(&format!("SELECT pg_terminate_backend(pid) {others}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let ended = pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let gone = format!("SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN ({ended})");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar(&gone)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "sessions still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // A cashier's next payment comes a while later: longer than the writer's connection may
    // rest unchecked (a second), so it is checked before the group and opened again.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    let next = phone.request(Step::Pay(kcell("7018000022", THOUSAND)));
    let reply = post(&gateway, sign(&phone, &next)).await.unwrap();
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    assert_eq!(stored_transaction_ids(&gateway).await, numbered(1, 2));
}

/// Payments of two dealers in one group: both dealers' rows are read (and on PostgreSQL locked,
/// in code order) in one statement, and each payment is decided on its own dealer's figures —
/// its numbers, its balance — as if it had come alone: the second dealer's money runs out in
/// the middle of the group while the first dealer's payments go on being paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payments_of_two_dealers_in_one_group_each_draw_on_their_own_dealer() {
    let gateway = Arc::new(support::start().await);
    let ours = gateway.ready_phone(16).await;
    let theirs = gateway.second_dealer_phone(17).await;
    gateway.set_balance("D002", 2 * THOUSAND).await;
    let ours_before = gateway.balance_of(DEALER).await;

    let first = signed_pay(&ours, "7019000000", THOUSAND);
    let group = (0..6)
        .map(|i| {
            let phone = if i % 2 == 0 { &theirs } else { &ours };
            signed_pay(phone, &format!("70190000{:02}", i + 1), THOUSAND)
        })
        .collect();
    let (first, replies) = one_group(&gateway, first, group, &[]).await;

    assert_eq!(first.code(), ResultCode::Ok, "{}", first.text());
    use ResultCode::{InsufficientFunds as Short, Ok};
    // The second dealer's, the first's, in turn: the second dealer pays twice, then is short
    // (its refusal stored under its own next number, as every decided payment is).
    assert_eq!(codes(&replies), [Ok, Ok, Ok, Ok, Short, Ok]);
    assert_eq!(
        transaction_ids(&replies),
        ["D002-1", "D001-2", "D002-2", "D001-3", "D002-3", "D001-4"]
    );
    assert_eq!(gateway.balance_of("D002").await, 0);
    assert_eq!(gateway.balance_of(DEALER).await, ours_before - 4 * THOUSAND);
    assert_eq!(gateway.ledger_sum("D002").await, 0);
}

/// A gateway whose payment writer waits `wait` for a dealer's row another transaction holds,
/// and `patience` more with the payment put aside; `None` on SQLite, which has one write lock
/// for every dealer, so nothing to put aside.
async fn waiting_for_held_dealers(wait: Duration, patience: Duration) -> Option<Arc<Gateway>> {
    let gateway = Arc::new(support::start().await);
    if gateway.database_url.starts_with("sqlite:") {
        eprintln!("SQLite has one write lock for every dealer; skipped");
        return None;
    }
    let held = HeldDealers { wait, patience };
    gateway.payments.wait_for_held_dealers(held);
    Some(gateway)
}

/// PostgreSQL: a dealer's row held by another transaction for good — a console or `psql`
/// session left open — holds up every payment only for the writer's wait; then the other
/// dealers' payments are decided, the held dealer's wait aside, and are decided once the row
/// is let go. (SQLite has one write lock for every dealer: nothing to put aside.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dealer_whose_row_stays_held_holds_up_only_its_own_payments() {
    let wait = Duration::from_millis(200);
    let Some(gateway) = waiting_for_held_dealers(wait, Duration::from_secs(60)).await else {
        return;
    };
    let ours = gateway.ready_phone(16).await;
    let theirs = gateway.second_dealer_phone(17).await;
    let theirs_before = gateway.balance_of("D002").await;

    let held = Held::take(&gateway).await;
    let waiting = post(&gateway, signed_pay(&ours, "7018000016", THOUSAND));
    until("the held dealer's payment waits aside", || {
        gateway.payments.aside() == 1
    })
    .await;
    // The operator's monitoring sees it.
    let metrics = gateway
        .client
        .get(format!("{}/metrics", gateway.url))
        .bearer_auth(support::METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|line| line == "tolem_payments_aside 1"),
        "{metrics}"
    );
    // Answered while the first dealer's row is still held, or never: the test fails on it.
    let other = tokio::time::timeout(
        Duration::from_secs(30),
        post(&gateway, signed_pay(&theirs, "7018000017", THOUSAND)),
    )
    .await
    .expect("the second dealer's payment waited for the first dealer's row")
    .unwrap();
    assert_eq!(other.code(), ResultCode::Ok, "{}", other.text());
    assert_eq!(other.receipt().transaction_id, "D002-1");
    assert_eq!(gateway.balance_of("D002").await, theirs_before - THOUSAND);
    assert!(
        !waiting.is_finished(),
        "the held dealer's payment was answered while its row was held"
    );

    held.release().await;
    let waited = waiting.await.unwrap();
    assert_eq!(waited.code(), ResultCode::Ok, "{}", waited.text());
    assert_eq!(waited.receipt().transaction_id, format!("{DEALER}-1"));
    assert_eq!(gateway.payments.aside(), 0);
}

/// PostgreSQL: a payment whose dealer's row stays held past the writer's patience is answered
/// 999 and stored nowhere — no number taken, no money moved — and the same request sent again
/// once the row is let go is paid, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_dealers_row_stays_held_is_answered_999_and_paid_when_sent_again() {
    let wait = Duration::from_millis(100);
    let Some(gateway) = waiting_for_held_dealers(wait, wait).await else {
        return;
    };
    let phone = gateway.ready_phone(18).await;
    let before = gateway.balance_of(DEALER).await;
    let signed = signed_pay(&phone, "7018000018", THOUSAND);

    let held = Held::take(&gateway).await;
    let refused = tokio::time::timeout(Duration::from_secs(30), post(&gateway, signed.clone()))
        .await
        .expect("the payment waited for its dealer's row without end")
        .unwrap();
    assert_eq!(refused.code(), ResultCode::Internal, "{}", refused.text());
    until("the monitoring sees nothing waiting aside", || {
        gateway.payments.aside() == 0
    })
    .await;
    held.release().await;
    assert_eq!(stored_transaction_ids(&gateway).await, Vec::<String>::new());
    assert_eq!(gateway.balance_of(DEALER).await, before);

    let paid = post(&gateway, signed).await.unwrap();
    assert_eq!(paid.code(), ResultCode::Ok, "{}", paid.text());
    assert_eq!(paid.receipt().transaction_id, format!("{DEALER}-1"));
    assert_eq!(gateway.balance_of(DEALER).await, before - THOUSAND);
}
