//! Guards §12 done automatically: twenty payments deferred with the network down stay on the
//! phone; with every page of the app closed and the network back, the service worker alone sends
//! them when the browser fires its Background Sync — each reaches the gateway exactly once, and
//! the dealer's balance moves by exactly their sum.
//!
//! Real parts only: the release build and its worker in Chromium, the gateway binary, and an
//! outage made by a proxy that drops every connection. Headless Chromium never sees its network
//! change, so the test asks it (DevTools `ServiceWorker.dispatchSyncEvent`) to fire the sync
//! event it would fire when connectivity returns: the browser's own event, into the real worker.
//!
//! The replay's code is a chunk of the split module (outbox/src/replay.rs), and the worker runs
//! the one it cached with its version: the gateway here no longer serves it, as after a deploy
//! of a newer build.

use std::time::{Duration, Instant};

use tolem_e2e::deferred::{
    ProxiedPoint, accepted_once, defer_offline, gateway_holds, nothing_waits, sum_tiyn,
    sync_fires_in_fresh_worker,
};
use tolem_e2e::path_from_env;

const PAYMENTS: usize = 20;

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_alone_sends_twenty_deferred_payments_once_each() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    // The gateway stops serving the replay's chunk (a newer build is deployed there).
    let chunk = replay_chunk();
    proxy.set_not_found(&chunk, true);
    let chunk_asked = proxy.seen(&chunk);

    // The network goes down; the cashier defers twenty payments.
    let taken = defer_offline(phone, proxy, 0..PAYMENTS).await;
    let (count, total, deadline) = phone.outbox_summary().await;
    let sum = sum_tiyn(&taken);
    assert_eq!((count, total), (PAYMENTS, sum));
    assert!(!deadline.is_empty(), "the header counts down to a deadline");
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");

    // Every page of the app is closed (the tab goes elsewhere), the browser stops the idle
    // worker; then the network returns and the browser fires the sync event in a new one. The gateway ends up with each payment
    // once, all accepted.
    sync_fires_in_fresh_worker(phone, proxy).await;
    let held = gateway_holds(console, PAYMENTS, Duration::from_secs(40)).await;
    accepted_once(&held, &taken);
    assert_eq!(
        proxy.delivered_payments(),
        PAYMENTS,
        "each payment sent once, alone or in a batch"
    );
    assert_eq!(console.balance_tiyn().await, point.balance_before - sum);
    assert_eq!(
        proxy.seen(&chunk),
        chunk_asked,
        "the replay's code came from the worker's cache, not the gateway"
    );

    // Back in the app, the history shows them accepted and nothing waits.
    phone.open_payment_form().await;
    let states = phone.wait_until_all_final(Duration::from_secs(5)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    nothing_waits(phone).await;

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}

/// The path of the replay pass's chunk in the release build under test.
fn replay_chunk() -> String {
    let dist = path_from_env("TOLEM_DIST");
    let name = std::fs::read_dir(&dist)
        .expect("the build's folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .find(|name| name.starts_with("split_tolem_replay-") && name.ends_with(".wasm"))
        .expect("the release build has the replay's chunk (scripts/build-app.sh)");
    format!("/{name}")
}
