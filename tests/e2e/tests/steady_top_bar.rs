//! Guards the page against moving under the cashier's finger: a payment deferred and then sent,
//! the network lost and back — each happens at any moment, while a finger is on its way to a
//! button — and the top bar keeps its height, so the page under it stays where it was. A bar that
//! wrapped to one more row (a 320 px phone when a payment waited, or the network dropped) moved
//! the result screen's *New payment* by 44 px a few milliseconds after it appeared, and a tap
//! landed on nothing.
//!
//! Real parts: the release build and its worker in Chromium emulating the phone's screen, the
//! gateway and a proxy that takes the network down.

use serde_json::json;
use tolem_e2e::deferred::ProxiedPoint;
use tolem_e2e::{Action, Browser, Fault, kcell_number};

#[tokio::test(flavor = "multi_thread")]
async fn the_page_stays_put_while_payments_wait_and_go_and_the_network_comes_and_goes() {
    let point = ProxiedPoint::start().await;
    let (proxy, phone) = (&point.proxy, &point.phone);
    let b = &phone.browser;

    let mut moved = Vec::new();
    let mut account = 0;
    for (width, languages) in [(320, &["ru", "kk", "en"][..]), (1024, &["kk"][..])] {
        b.devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 640, "deviceScaleFactor": 2, "mobile": width < 800 }),
        )
        .await;
        for language in languages {
            b.eval(&format!(
                "localStorage.setItem('tolem.language', '{language}'); return true"
            ))
            .await;
            phone.open_payment_form().await;
            b.wait_for(
                "the page in its language",
                &format!("return document.documentElement.lang === '{language}'"),
            )
            .await;

            b.wait_for_connection("online").await;
            b.wait_for_element("#outbox-summary[data-count='0']").await;
            let calm = page_top(b).await;

            proxy.set_fault(Fault::Down);
            b.network_lost().await;
            account += 1;
            phone
                .pay(Action::Defer, &kcell_number(account), "1500")
                .await;
            b.wait_for_element("#outbox-summary[data-count='1']").await;
            b.wait_for_connection("offline").await;
            let waiting = page_top(b).await;

            proxy.set_fault(Fault::None);
            b.network_returns().await;
            b.wait_for_element("#outbox-summary[data-count='0']").await;
            b.wait_for_connection("online").await;
            let sent = page_top(b).await;

            if (waiting, sent) != (calm, calm) {
                moved.push(format!(
                    "{width} px [{language}]: the page began {calm} px down, \
                     {waiting} px with a payment waiting offline, {sent} px once it was sent"
                ));
            }
        }
    }
    assert!(moved.is_empty(), "the page moved:\n{}", moved.join("\n"));
    point.close().await;
}

/// Where the page under the top bar begins, in CSS pixels from the top of the document.
async fn page_top(b: &Browser) -> i64 {
    b.eval("return Math.round(document.querySelector('main').getBoundingClientRect().top + window.scrollY)")
        .await
        .as_i64()
        .expect("a number")
}
