//! Guards §12 in a browser without Background Sync (Firefox, like Safari): nothing fires a sync
//! event when the network returns, so the deferred payments must go from the page — when its
//! health check sees the gateway again — or when the cashier opens the app again. Each reaches
//! the gateway exactly once and the dealer's balance moves by exactly their sum.
//!
//! Real parts only: the release build and its service worker in Firefox ESR, the gateway binary,
//! and an outage made by a proxy that drops every connection.

use std::time::Duration;

use tolem_e2e::deferred::{
    ProxiedPoint, accepted_once, defer, defer_offline, gateway_holds, nothing_waits, sum_tiyn,
};
use tolem_e2e::{Engine, Fault};

/// The page checks the gateway every 30 s and then retries with backoff: what a cashier waits.
const PATIENCE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn firefox_sends_deferred_payments_once_when_the_network_returns() {
    let point = ProxiedPoint::start_in(Engine::Firefox).await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    // The network goes down; the cashier defers three payments and keeps the app open.
    let mut taken = defer_offline(phone, proxy, 0..3).await;
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");

    // The network returns. Nobody touches the phone: the page notices and sends them.
    proxy.set_fault(Fault::None);
    accepted_once(&gateway_holds(console, taken.len(), PATIENCE).await, &taken);
    nothing_waits(phone).await;

    // Down again; two more deferred, then the app is closed before the network returns.
    proxy.set_fault(Fault::Down);
    phone.open_payment_form().await;
    taken.extend(defer(phone, 3..5).await);
    phone.browser.client.goto("about:blank").await.unwrap();
    proxy.set_fault(Fault::None);

    // The cashier opens the app again: what waited goes, once.
    phone.browser.client.goto(&phone.app).await.unwrap();
    accepted_once(&gateway_holds(console, taken.len(), PATIENCE).await, &taken);
    assert_eq!(
        proxy.delivered_payments(),
        taken.len(),
        "each payment sent once, alone or in a batch"
    );
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - sum_tiyn(&taken)
    );

    point.close().await;
}
