//! Guards "one replayer at a time": two tabs of the app and the service worker all wake up when
//! the network returns, and each deferred payment still reaches the gateway exactly once — not
//! merely accepted once (the gateway's idempotency would hide a double send), but *sent* once:
//! the proxy counts the pay requests that reached the gateway. And no replayer ever runs beside
//! another: none of them needs a status query, which is what a second replayer does when it
//! finds a payment the first has marked as being sent (checked to fail with the lock removed).
//!
//! Real parts only: the release build and its worker in Chromium (two tabs of one profile, so one
//! IndexedDB and one worker), the gateway binary, and a slow, then failing, then healthy proxy.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;
use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, dispatch_sync, free_port, kcell_number,
    path_from_env, sync_registration_id,
};

const PAYMENTS: usize = 10;

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_and_the_worker_send_each_payment_once() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let client = &phone.browser.client;
    let first: WindowHandle = client.window().await.unwrap();

    proxy.set_fault(Fault::Down);
    let mut taken = Vec::new();
    for n in 0..PAYMENTS {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 500 + n))
            .await;
        assert_eq!(payment.state, "deferred");
        taken.push(payment);
    }

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

    let deadline = Instant::now() + Duration::from_secs(40);
    let held = loop {
        let held = console.payments().await;
        if held.len() >= PAYMENTS || Instant::now() > deadline {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let sessions: HashSet<&str> = held.iter().map(|p| p.session.as_str()).collect();
    let expected: HashSet<&str> = taken.iter().map(|p| p.session.as_str()).collect();
    assert_eq!(held.len(), PAYMENTS, "{held:?}");
    assert_eq!(sessions, expected);
    assert!(held.iter().all(|p| p.status == "accepted"), "{held:?}");
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

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}
