//! Guards "one replayer at a time": two tabs of the app and the service worker all wake up when
//! the network returns, and each deferred payment still reaches the gateway exactly once — not
//! merely accepted once (the gateway's idempotency would hide a double send), but *sent* once:
//! the proxy counts the pay requests that reached the gateway. And no replayer ever runs beside
//! another: none of them needs a status query, which is what a second replayer does when it
//! finds a payment the first has marked as being sent (checked to fail with the lock removed).
//!
//! Real parts only: the release build and its worker in Chromium (two tabs of one profile, so one
//! IndexedDB and one worker), the gateway binary, and a slow, then failing, then healthy proxy.

use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;
use tolem_e2e::deferred::{ProxiedPoint, accepted_once, defer_offline, gateway_holds};
use tolem_e2e::{Fault, dispatch_sync, sync_registration_id};

const PAYMENTS: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_and_the_worker_send_each_payment_once() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);
    let client = &phone.browser.client;
    let first: WindowHandle = client.window().await.unwrap();

    let taken = defer_offline(phone, proxy, 0..PAYMENTS).await;

    // A second tab with the history, and a third that finds the worker's registration.
    let second = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(second.clone()).await.unwrap();
    client.goto(&format!("{}history", phone.app)).await.unwrap();
    phone.browser.wait_for_element("#history-list").await;
    let third = client.new_window(true).await.unwrap().handle;
    client.switch_to_window(third).await.unwrap();
    let registration = sync_registration_id(&phone.browser, &phone.app).await;

    // The network returns on a slow line: every replayer wakes while the others are at work —
    // the browser's sync in the worker, and each tab on the browser's `online` event.
    proxy.set_delay(Duration::from_millis(150));
    proxy.set_fault(Fault::None);
    let origin = phone.app.trim_end_matches('/').to_owned();
    dispatch_sync(&phone.browser, &origin, &registration).await;
    for tab in [&first, &second] {
        client.switch_to_window(tab.clone()).await.unwrap();
        phone.browser.network_returns().await;
    }

    let held = gateway_holds(console, PAYMENTS, Duration::from_secs(40)).await;
    accepted_once(&held, &taken);
    // Settle the last ones' answers, then count what was sent.
    client.switch_to_window(first).await.unwrap();
    phone.wait_until_all_final(Duration::from_secs(20)).await;
    assert_eq!(
        proxy.delivered_payments(),
        PAYMENTS,
        "each payment sent exactly once"
    );
    // A second replayer running alongside would find payments the first had marked *sending*
    // and ask for their status (its guard against paying twice): with one replayer at a time
    // no status query is ever needed here.
    assert_eq!(
        proxy.seen("/api/v1/status"),
        0,
        "no replayer found a payment another was sending"
    );

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}
