//! Issue 14 item 3: deferred payments replayed in batches by the real service worker to the real
//! gateway — twelve payments deferred with the network down go in one batch request (the proxy
//! sees the batch and not a single pay), each reaches the gateway exactly once, all accepted, and
//! the dealer's balance moves by exactly their sum; the batch goes gzipped. A gateway older
//! than batches (the proxy answers 404 to the batch URL, as such a gateway does) gets them one
//! by one, each once.

use std::time::{Duration, Instant};

use tolem_e2e::deferred::{
    ProxiedPoint, accepted_once, defer_offline, gateway_holds, nothing_waits, sum_tiyn, sync_fires,
};

const PAYMENTS: usize = 12;
const BATCH: &str = "/api/v1/batch";
/// From the sync event until the gateway holds them all.
const PATIENCE: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_sends_deferred_payments_in_a_batch_each_once() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);

    let taken = defer_offline(phone, proxy, 0..PAYMENTS).await;
    assert_eq!(proxy.delivered_payments(), 0, "nothing reached the gateway");
    sync_fires(phone, proxy).await;
    accepted_once(&gateway_holds(console, PAYMENTS, PATIENCE).await, &taken);
    assert_eq!(proxy.delivered(BATCH), 1, "all twelve in one batch");
    assert_eq!(
        proxy.delivered_gzipped(BATCH),
        1,
        "the batch went gzipped, a third of its bytes on a slow link"
    );
    assert_eq!(proxy.seen("/api/v1/pay"), 0, "no single pay");
    assert_eq!(proxy.delivered_payments(), PAYMENTS, "each sent once");
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - sum_tiyn(&taken)
    );

    // Back in the app: the history shows them accepted and nothing waits.
    phone.open_payment_form().await;
    let states = phone.wait_until_all_final(Duration::from_secs(5)).await;
    assert!(states.iter().all(|(_, s)| s == "accepted"), "{states:?}");
    nothing_waits(phone).await;

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_gateway_gets_the_deferred_payments_one_by_one_each_once() {
    let started = Instant::now();
    let point = ProxiedPoint::start().await;
    let (proxy, console, phone) = (&point.proxy, &point.console, &point.phone);
    proxy.set_not_found(BATCH, true);

    let taken = defer_offline(phone, proxy, 100..100 + PAYMENTS).await;
    sync_fires(phone, proxy).await;
    accepted_once(&gateway_holds(console, PAYMENTS, PATIENCE).await, &taken);
    assert!(proxy.seen(BATCH) >= 1, "the worker tried a batch first");
    assert_eq!(proxy.delivered(BATCH), 0);
    assert_eq!(proxy.delivered("/api/v1/pay"), PAYMENTS, "one pay each");
    assert_eq!(proxy.delivered_payments(), PAYMENTS);
    assert_eq!(
        console.balance_tiyn().await,
        point.balance_before - sum_tiyn(&taken)
    );

    point.close().await;
    eprintln!("took {:?}", started.elapsed());
}
