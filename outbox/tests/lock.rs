//! Guards "one replayer at a time" in a real browser: under Web Locks and under the IndexedDB
//! lease that replaces them where a browser has none, a second replayer is turned away (or waits
//! its turn) while the first works; a lease left by a dead holder expires; a holder that lost its
//! lease learns it before its next send; and the offline limits are checked against what really
//! waits in the outbox.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use tolem_outbox::db::{self, HISTORY, OUTBOX, SETTINGS};
use tolem_outbox::limits::{LimitError, Waiting, check_defer, check_defer_now};
use tolem_outbox::lock::{
    self, LEASE_KEY, LEASE_MS, Lease, LockError, Mechanism, Wait, sleep_ms, with_lock_using,
};
use tolem_outbox::store;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn clear(stores: &[&str]) {
    let database = db::open().await.unwrap();
    let transaction = database
        .transaction(stores, idb::TransactionMode::ReadWrite)
        .unwrap();
    for name in stores {
        transaction
            .object_store(name)
            .unwrap()
            .clear()
            .unwrap()
            .await
            .unwrap();
    }
    db::finish(transaction).await.unwrap();
}

fn now() -> i64 {
    js_sys::Date::now() as i64
}

#[wasm_bindgen_test]
async fn the_lease_has_one_holder_until_it_expires_or_is_released() {
    clear(&[SETTINGS]).await;
    assert!(lock::try_take_lease("tab-a", NOW).await.unwrap());
    assert!(!lock::try_take_lease("tab-b", NOW + 1).await.unwrap());
    // The holder renews; another cannot.
    assert!(lock::renew_lease("tab-a", NOW + 2).await.unwrap());
    assert!(!lock::renew_lease("tab-b", NOW + 3).await.unwrap());
    // Its holder died: after the lease time anyone may take it, and the dead one has lost it.
    let expiry = NOW + 2 + LEASE_MS;
    assert!(!lock::try_take_lease("tab-b", expiry - 1).await.unwrap());
    assert!(lock::try_take_lease("tab-b", expiry).await.unwrap());
    assert!(!lock::renew_lease("tab-a", expiry + 1).await.unwrap());
    // Only the holder's release frees it.
    lock::release_lease("tab-a").await.unwrap();
    assert!(!lock::try_take_lease("tab-a", expiry + 2).await.unwrap());
    lock::release_lease("tab-b").await.unwrap();
    assert_eq!(lock::current_lease().await.unwrap(), None);
    assert!(lock::try_take_lease("tab-a", expiry + 3).await.unwrap());
    lock::release_lease("tab-a").await.unwrap();
}

/// A holder whose clock was ahead (by an hour) took the lease and died; the clock is right again.
/// Its lease ends more than [`LEASE_MS`] from now — no live holder could have written that — so
/// it is stale and taken at once, not after the hour the clock was wrong.
#[wasm_bindgen_test]
async fn a_lease_from_a_clock_that_was_ahead_is_stale() {
    clear(&[SETTINGS]).await;
    let hour = 3_600_000;
    assert!(lock::try_take_lease("tab-ahead", NOW + hour).await.unwrap());
    // By the clock that wrote it, the lease still runs: not taken...
    assert!(
        !lock::try_take_lease("tab-b", NOW + hour + LEASE_MS - 1)
            .await
            .unwrap()
    );
    // ...but seen from the corrected clock it runs out too late to be real.
    assert!(lock::try_take_lease("tab-b", NOW).await.unwrap());
    assert_eq!(
        lock::current_lease().await.unwrap(),
        Some(Lease {
            holder: "tab-b".into(),
            expires_at_ms: NOW + LEASE_MS
        })
    );
    // A lease written just now at the exact term is not stale.
    assert!(!lock::try_take_lease("tab-c", NOW).await.unwrap());
    lock::release_lease("tab-b").await.unwrap();
}

/// A promise and the function that resolves it: the test's hand on a holder.
fn signal() -> (js_sys::Promise, js_sys::Function) {
    let mut resolver = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| resolver = Some(resolve));
    (promise, resolver.expect("the executor runs at once"))
}

/// Waits until `log` shows `entry` — a state, not a time (polls, gives up after 10 s).
async fn until_logged(log: &Rc<RefCell<Vec<String>>>, entry: &str) {
    for _ in 0..1_000 {
        if log.borrow().iter().any(|e| e == entry) {
            return;
        }
        sleep_ms(10).await;
    }
    panic!("never logged {entry:?}: {:?}", log.borrow());
}

/// Starts a holder of the lock that keeps it until the returned function is called, noting
/// "first start"/"first end" in `log`.
fn hold_until_released(mechanism: Mechanism, log: Rc<RefCell<Vec<String>>>) -> js_sys::Function {
    let (released, release) = signal();
    wasm_bindgen_futures::spawn_local(async move {
        let inner = log.clone();
        let held = with_lock_using(mechanism, Wait::IfFree, move |_held| async move {
            inner.borrow_mut().push("first start".into());
            let _ = wasm_bindgen_futures::JsFuture::from(released).await;
            inner.borrow_mut().push("first end".into());
        })
        .await;
        assert_eq!(held, Ok(()));
    });
    release
}

async fn one_replayer_at_a_time(mechanism: Mechanism) {
    clear(&[SETTINGS]).await;
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let release = hold_until_released(mechanism, log.clone());
    until_logged(&log, "first start").await;
    assert_eq!(*log.borrow(), vec!["first start".to_string()]);

    // A second replayer that would rather not wait is turned away at once.
    let ran = Rc::new(RefCell::new(false));
    let flag = ran.clone();
    let turned_away = with_lock_using(mechanism, Wait::IfFree, move |_| async move {
        *flag.borrow_mut() = true;
    })
    .await;
    assert_eq!(turned_away, Err(LockError::Busy));
    assert!(!*ran.borrow());

    // One that must send waits its turn, and runs only after the first let go.
    let (finished, finish) = signal();
    let inner = log.clone();
    wasm_bindgen_futures::spawn_local(async move {
        inner.borrow_mut().push("second asks".into());
        let second = inner.clone();
        let queued = with_lock_using(mechanism, Wait::Queue, move |_| async move {
            second.borrow_mut().push("second".into());
        })
        .await;
        assert_eq!(queued, Ok(()));
        let _ = finish.call0(&wasm_bindgen::JsValue::NULL);
    });
    until_logged(&log, "second asks").await;
    assert!(
        !log.borrow().iter().any(|e| e == "second"),
        "the first still holds it"
    );
    let _ = release.call0(&wasm_bindgen::JsValue::NULL);
    wasm_bindgen_futures::JsFuture::from(finished)
        .await
        .unwrap();
    assert_eq!(
        *log.borrow(),
        vec![
            "first start".to_string(),
            "second asks".to_string(),
            "first end".to_string(),
            "second".to_string()
        ]
    );
}

#[wasm_bindgen_test]
async fn under_web_locks_a_second_replayer_is_turned_away_or_waits_its_turn() {
    assert_eq!(lock::available_mechanism(), Mechanism::WebLocks);
    one_replayer_at_a_time(Mechanism::WebLocks).await;
}

#[wasm_bindgen_test]
async fn under_the_lease_a_second_replayer_is_turned_away_or_waits_its_turn() {
    one_replayer_at_a_time(Mechanism::Lease).await;
}

#[wasm_bindgen_test]
async fn a_lease_left_by_a_dead_holder_expires() {
    clear(&[SETTINGS]).await;
    let dead = Lease {
        holder: "closed-tab".into(),
        expires_at_ms: now() - 1,
    };
    db::write_value(LEASE_KEY, &dead).await.unwrap();
    let ran = with_lock_using(Mechanism::Lease, Wait::IfFree, |held| async move {
        assert_eq!(held.mechanism(), Mechanism::Lease);
        held.keep().await
    })
    .await;
    assert_eq!(ran, Ok(true), "the expired lease was taken over");
    assert_eq!(lock::current_lease().await.unwrap(), None, "and let go");

    // A live holder's lease is respected.
    let live = Lease {
        holder: "open-tab".into(),
        expires_at_ms: now() + LEASE_MS,
    };
    db::write_value(LEASE_KEY, &live).await.unwrap();
    let refused = with_lock_using(Mechanism::Lease, Wait::IfFree, |_| async {}).await;
    assert_eq!(refused, Err(LockError::Busy));
    clear(&[SETTINGS]).await;
}

#[wasm_bindgen_test]
async fn a_holder_that_lost_its_lease_stops_before_the_next_send() {
    clear(&[SETTINGS]).await;
    let kept = with_lock_using(Mechanism::Lease, Wait::IfFree, |held| async move {
        let before = held.keep().await;
        // Too slow: the lease ran out and another context took it.
        let other = Lease {
            holder: "other-tab".into(),
            expires_at_ms: now() + LEASE_MS,
        };
        db::write_value(LEASE_KEY, &other).await.unwrap();
        (before, held.keep().await)
    })
    .await;
    assert_eq!(kept, Ok((true, false)));
    // Its release did not free the other's lease.
    assert_eq!(
        lock::current_lease().await.unwrap().map(|l| l.holder),
        Some("other-tab".to_string())
    );
    clear(&[SETTINGS]).await;
}

#[wasm_bindgen_test]
async fn the_limits_count_what_really_waits_in_the_outbox() {
    clear(&[HISTORY, OUTBOX]).await;
    // Three payments of 2 000 ₸ each wait; one of them has been accepted meanwhile.
    for n in 1..=3u8 {
        store::save_new(signed_at(NOW + i64::from(n), n), NOW)
            .await
            .unwrap();
    }
    let records = store::waiting().await.unwrap();
    let mut accepted = records[1].clone();
    accepted.state = tolem_outbox::State::Accepted;
    store::update(&accepted).await.unwrap();

    let waiting = Waiting::of(&store::waiting().await.unwrap());
    // The header's cheap summary (outbox entries only) says the same as the full records.
    assert_eq!(store::waiting_summary().await.unwrap(), waiting);
    assert_eq!(waiting.count, 2);
    assert_eq!(waiting.total_tiyn, 4_000_00);
    assert_eq!(waiting.oldest_created_ms, Some(NOW + 1));
    let mut limits = card().offline;
    limits.max_total_tiyn = 5_000_00;
    assert_eq!(check_defer(&limits, &waiting, 1_000_00, NOW + 10), Ok(()));
    assert_eq!(
        check_defer(&limits, &waiting, 1_000_01, NOW + 10),
        Err(LimitError::TotalTooLarge {
            max_tiyn: 5_000_00,
            room_tiyn: 1_000_00
        })
    );
    let deadline = NOW + 1 + limits.max_age_ms;
    assert_eq!(
        check_defer(&limits, &waiting, 1_00, deadline),
        Err(LimitError::Overdue {
            deadline_ms: deadline
        })
    );
    // Judged at the gateway's time, as the payments were signed: a phone whose clock is
    // three hours behind is already past the deadline when its own clock is not.
    let phone_now = tolem_outbox::clock::phone_now_ms();
    let hours = |n: i64| n * 3_600_000;
    let mut old = waiting;
    old.oldest_created_ms = Some(phone_now + hours(3) - limits.max_age_ms - hours(1));
    tolem_outbox::clock::observe(phone_now + hours(3), phone_now);
    assert!(matches!(
        check_defer_now(&limits, &old, 1_00),
        Err(LimitError::Overdue { .. })
    ));
    tolem_outbox::clock::observe(phone_now, phone_now);
    assert_eq!(check_defer_now(&limits, &old, 1_00), Ok(()));
    clear(&[HISTORY, OUTBOX]).await;
}
