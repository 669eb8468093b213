//! Guards §12 done automatically: twenty payments deferred with the network down stay on the
//! phone; with every page of the app closed and the network back, the service worker alone sends
//! them when the browser fires its Background Sync — each reaches the gateway exactly once, and
//! the dealer's balance moves by exactly their sum.
//!
//! Real parts only: the release build and its worker in Chromium, the gateway binary, and an
//! outage made by a proxy that drops every connection. Headless Chromium never sees its network
//! change, so the test asks it (DevTools `ServiceWorker.dispatchSyncEvent`) to fire the sync
//! event it would fire when connectivity returns: the browser's own event, into the real worker.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, dispatch_sync, free_port, kcell_number,
    path_from_env, sync_registration_id,
};

const PAYMENTS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_alone_sends_twenty_deferred_payments_once_each() {
    let started = Instant::now();
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;

    // The network goes down; the cashier defers twenty payments.
    proxy.set_fault(Fault::Down);
    let mut taken = Vec::new();
    for n in 0..PAYMENTS {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 1_000 + n))
            .await;
        assert_eq!(payment.state, "deferred", "payment {n}: {payment:?}");
        taken.push(payment);
    }
    let (count, total, deadline) = phone.outbox_summary().await;
    let sum: i64 = taken.iter().map(|p| p.amount_tiyn).sum();
    assert_eq!((count, total), (PAYMENTS, sum));
    assert!(!deadline.is_empty(), "the header counts down to a deadline");
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");

    // Every page of the app is closed (the tab goes elsewhere); then the network returns and
    // the browser fires the sync event in the worker.
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    proxy.set_fault(Fault::None);
    let origin = phone.app.trim_end_matches('/').to_owned();
    dispatch_sync(&phone.browser, &origin, &registration).await;

    // The gateway ends up with each payment once, all accepted.
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
    assert_eq!(held.len(), PAYMENTS, "one row per payment: {held:?}");
    assert_eq!(sessions, expected, "the very sessions the phone made");
    assert!(held.iter().all(|p| p.status == "accepted"), "{held:?}");
    assert_eq!(
        proxy.delivered_payments(),
        PAYMENTS,
        "each payment sent once, alone or in a batch"
    );
    assert_eq!(console.balance_tiyn().await, balance_before - sum);

    // Back in the app, the history shows them accepted and nothing waits.
    phone.open_payment_form().await;
    let states = phone.wait_until_all_final(Duration::from_secs(5)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    phone
        .browser
        .wait_for(
            "the header to show nothing waiting",
            "return document.querySelector('#outbox-summary')?.dataset.count === '0'",
        )
        .await;

    phone.close().await;
    console.close().await;
    eprintln!("took {:?}", started.elapsed());
}
