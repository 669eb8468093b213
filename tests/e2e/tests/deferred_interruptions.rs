//! Guards the replay against the interruptions of real life — nothing lost, nothing doubled:
//!
//! - the page reloads in the middle of a replay (the cashier pulls to refresh);
//! - the gateway dies (SIGKILL, a power cut) in the middle of a replay and comes back;
//! - a captive portal answers every request with a 200 HTML login page.
//!
//! One scenario per test. Real parts only: the release build and its worker in Chromium, the
//! gateway binary (killed for real), and a proxy that slows the line (so the test can act in the
//! middle of a replay) or answers like a captive portal.

use std::time::{Duration, Instant};

use tolem_e2e::deferred::{ProxiedPoint, accepted_once, defer_offline, sum_tiyn};
use tolem_e2e::{Action, Console, Fault, Gateway, Proxy, Taken, kcell_number, path_from_env};

const PAYMENTS: usize = 8;

/// Waits until `count` payments reached the gateway (alone or in batches).
async fn wait_for_pays(proxy: &Proxy, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.delivered_payments() < count {
        assert!(Instant::now() < deadline, "the replay did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The gateway holds each payment exactly once, accepted, and the balance moved by their sum.
async fn assert_each_once(console: &Console, taken: &[Taken], balance_before: i64) {
    accepted_once(&console.payments().await, taken);
    assert_eq!(
        console.balance_tiyn().await,
        balance_before - sum_tiyn(taken)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_in_the_middle_of_a_replay_loses_and_doubles_nothing() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);
    let taken = defer_offline(phone, proxy, 0..PAYMENTS).await;

    // The network returns on a slow line; the page's own retry starts the replay; three
    // payments in, the page reloads.
    proxy.set_delay(Duration::from_millis(300));
    proxy.set_fault(Fault::None);
    wait_for_pays(proxy, 3).await;
    phone.browser.client.refresh().await.unwrap();

    let states = phone.wait_until_all_final(Duration::from_secs(40)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    assert_each_once(console, &taken, point.balance_before).await;

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_killed_in_the_middle_of_a_replay_loses_and_doubles_nothing() {
    let started = Instant::now();
    let ProxiedPoint {
        gateway,
        proxy,
        console,
        phone,
        balance_before,
        data,
    } = ProxiedPoint::start().await;
    let port = gateway.port;
    let taken = defer_offline(&phone, &proxy, 0..PAYMENTS).await;

    // Three payments into the replay the gateway dies at once, then starts again on the same
    // database.
    proxy.set_delay(Duration::from_millis(300));
    proxy.set_fault(Fault::None);
    wait_for_pays(&proxy, 3).await;
    gateway.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _restarted = Gateway::start(port, &path_from_env("TOLEM_DIST"), data.path());

    let states = phone.wait_until_all_final(Duration::from_secs(45)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    // The same console: its session lives in the database and survived the restart (a second
    // login would need the admin's next one-time code).
    assert_each_once(&console, &taken, balance_before).await;

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_captive_portal_answer_is_no_answer_and_nothing_is_lost_or_doubled() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    // Behind a captive portal every request gets "200 OK" and a Wi-Fi login page. A payment
    // executed there is not accepted on that word: its outcome is unknown. One deferred there
    // waits.
    proxy.set_fault(Fault::CaptivePortal);
    let executed = phone.pay(Action::Execute, &kcell_number(1), "1200").await;
    assert_eq!(executed.state, "unknown", "{executed:?}");
    let deferred = phone.pay(Action::Defer, &kcell_number(2), "1300").await;
    assert_eq!(deferred.state, "deferred");
    assert_eq!(proxy.delivered_payments(), 0, "the portal swallowed it");

    // Out of the portal: the unknown one is asked for by status (the gateway never got it, 11)
    // and its same signed pay sent; the deferred one is sent. Once each.
    proxy.set_fault(Fault::None);
    let states = phone.wait_until_all_final(Duration::from_secs(40)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    assert_eq!(proxy.delivered_payments(), 2);
    assert_each_once(console, &[executed, deferred], point.balance_before).await;

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}
