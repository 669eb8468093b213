//! What the deferred-payment tests share: a certified phone that reaches a real gateway through a
//! fault proxy, payments deferred from its pay form, the browser's sync fired into the worker,
//! and the check that matters in the end — the gateway holds each payment the phone took exactly
//! once, accepted, and the dealer's balance moved by exactly their sum.

use std::collections::HashSet;
use std::ops::Range;
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;

use crate::{
    Action, Console, Engine, Fault, Gateway, GatewayPayment, Phone, Proxy, Taken, dispatch_sync,
    free_port, kcell_number, path_from_env, sync_registration_id,
};

/// A point's phone behind a proxy the test can cut, slow or fake, certified by the dealer in the
/// console. `data` holds the gateway's database: a test that restarts the gateway takes the
/// parts out (fields drop in this order, the gateway before its data).
pub struct ProxiedPoint {
    pub gateway: Gateway,
    pub proxy: Proxy,
    pub console: Console,
    pub phone: Phone,
    /// The dealer's balance once the phone was certified, in tiyn.
    pub balance_before: i64,
    pub data: TempDir,
}

impl ProxiedPoint {
    /// In Chromium.
    pub async fn start() -> ProxiedPoint {
        ProxiedPoint::start_in(Engine::Chromium).await
    }

    /// In the given browser: the gateway on the release build, the proxy before it (healthy),
    /// the dealer logged into the console, the phone's key certified and its pay form open.
    pub async fn start_in(engine: Engine) -> ProxiedPoint {
        let dist = path_from_env("TOLEM_DIST");
        let data = tempfile::tempdir().expect("a temporary folder");
        let gateway = Gateway::start(free_port(), &dist, data.path());
        let proxy = Proxy::start(gateway.port).await;
        let mut console = Console::log_in(&gateway.url(), false).await;
        let phone = Phone::certified_in(engine, &proxy.url(), &mut console).await;
        let balance_before = console.balance_tiyn().await;
        ProxiedPoint {
            gateway,
            proxy,
            console,
            phone,
            balance_before,
            data,
        }
    }

    /// Closes the phone's and the console's browsers (the gateway stops when dropped).
    pub async fn close(self) {
        self.phone.close().await;
        self.console.close().await;
    }
}

/// Defers one Kcell payment of `1 000 + n` ₸ per `n` in `numbers` from the open pay form, each
/// checked to be deferred.
pub async fn defer(phone: &Phone, numbers: Range<usize>) -> Vec<Taken> {
    let mut taken = Vec::with_capacity(numbers.len());
    for n in numbers {
        let payment = phone
            .pay(Action::Defer, &kcell_number(n), &format!("{}", 1_000 + n))
            .await;
        assert_eq!(payment.state, "deferred", "payment {n}: {payment:?}");
        taken.push(payment);
    }
    taken
}

/// The network goes down ([`Fault::Down`]), then [`defer`].
pub async fn defer_offline(phone: &Phone, proxy: &Proxy, numbers: Range<usize>) -> Vec<Taken> {
    proxy.set_fault(Fault::Down);
    defer(phone, numbers).await
}

/// The network returns while no page of the app is open: the proxy heals and the browser fires
/// its Background Sync in the worker (headless Chromium never sees its network change, so the
/// test asks DevTools to fire the very event it would fire).
pub async fn sync_fires(phone: &Phone, proxy: &Proxy) {
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    proxy.set_fault(Fault::None);
    let origin = phone.app.trim_end_matches('/').to_owned();
    dispatch_sync(&phone.browser, &origin, &registration).await;
}

/// As [`sync_fires`], into a worker started afresh for the event and with the browser's HTTP
/// cache emptied, so the worker has nothing but what it keeps itself: a phone's browser stops
/// an idle worker within minutes, and evicts its HTTP cache as it likes.
pub async fn sync_fires_in_fresh_worker(phone: &Phone, proxy: &Proxy) {
    let registration = sync_registration_id(&phone.browser, &phone.app).await;
    let browser = &phone.browser;
    browser.devtools("ServiceWorker.enable", json!({})).await;
    browser
        .devtools("ServiceWorker.stopAllWorkers", json!({}))
        .await;
    browser
        .devtools("Network.clearBrowserCache", json!({}))
        .await;
    proxy.set_fault(Fault::None);
    let origin = phone.app.trim_end_matches('/').to_owned();
    dispatch_sync(browser, &origin, &registration).await;
}

/// Waits, up to `patience`, until the console lists `count` payments (or more: the assertions
/// then say what), and returns them.
pub async fn gateway_holds(
    console: &Console,
    count: usize,
    patience: Duration,
) -> Vec<GatewayPayment> {
    let deadline = Instant::now() + patience;
    loop {
        let held = console.payments().await;
        if held.len() >= count || Instant::now() > deadline {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The gateway holds exactly the payments the phone took, each once, all accepted.
pub fn accepted_once(held: &[GatewayPayment], taken: &[Taken]) {
    let sessions: HashSet<&str> = held.iter().map(|p| p.session.as_str()).collect();
    let expected: HashSet<&str> = taken.iter().map(|p| p.session.as_str()).collect();
    assert_eq!(held.len(), taken.len(), "one row per payment: {held:?}");
    assert_eq!(sessions, expected, "the very sessions the phone made");
    assert!(held.iter().all(|p| p.status == "accepted"), "{held:?}");
}

/// The sum of the payments taken, in tiyn.
pub fn sum_tiyn(taken: &[Taken]) -> i64 {
    taken.iter().map(|p| p.amount_tiyn).sum()
}

/// The app's header shows nothing waiting on the phone.
pub async fn nothing_waits(phone: &Phone) {
    phone
        .browser
        .wait_for(
            "the header to show nothing waiting",
            "return document.querySelector('#outbox-summary')?.dataset.count === '0'",
        )
        .await;
}
