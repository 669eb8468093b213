//! Guards the app on a 320 × 640 phone (issue 16): with a payment waiting in the top bar, the
//! network down and the key locked — the states that make the top bar longest — no screen of the
//! app is wider than the screen, in Russian, Kazakh (the longest words) and English. A page wider
//! than the phone scrolls sideways and hides buttons under others.
//!
//! Real parts: the release build and its worker in Chromium emulating the phone's screen, the
//! gateway and a proxy that takes the network down.

use serde_json::json;
use tolem_e2e::{
    Action, Console, Fault, Gateway, Phone, Proxy, free_port, kcell_number, path_from_env,
};

/// Every screen a cashier opens, relative to the app.
const SCREENS: &[&str] = &[
    "",
    "pay",
    "pay/kcell",
    "history",
    "message",
    "settings",
    "settings/commission",
    "settings/commission/kcell",
    "settings/about",
    "settings/keys",
    "settings/keys/view",
    "settings/keys/passphrase",
    "settings/keys/delete",
];

#[tokio::test(flavor = "multi_thread")]
async fn no_screen_is_wider_than_a_320_pixel_phone() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let b = &phone.browser;
    b.devtools(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 320, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
    )
    .await;

    // A payment waits on the phone, the network is down.
    proxy.set_fault(Fault::Down);
    let taken = phone.pay(Action::Defer, &kcell_number(1), "1500").await;
    assert!(
        taken.state == "deferred" || taken.state == "unknown",
        "{}",
        taken.state
    );

    let mut too_wide = Vec::new();
    for language in ["ru", "kk", "en"] {
        b.eval(&format!(
            "localStorage.setItem('tolem.language', '{language}'); return true"
        ))
        .await;
        // The waiting payment's own pages too: its page and its receipt (the payment document).
        let payment = format!("history/{}", taken.session);
        let receipt = format!("{payment}/receipt");
        let screens = SCREENS
            .iter()
            .copied()
            .chain([payment.as_str(), receipt.as_str()]);
        for screen in screens {
            // A full load: the key is locked again, as after the phone slept.
            b.client
                .goto(&format!("{}{screen}", phone.app))
                .await
                .unwrap();
            b.wait_for_element("main h1").await;
            b.wait_for_element("#outbox-summary[data-count='1']").await;
            b.wait_for(
                "the page in its language",
                &format!("return document.documentElement.lang === '{language}'"),
            )
            .await;
            assert_eq!(
                b.eval("return window.innerWidth").await.as_i64(),
                Some(320),
                "the phone's screen"
            );
            let overflow = b
                .eval(
                    "return Math.max(document.documentElement.scrollWidth, \
                     document.body.scrollWidth) - window.innerWidth",
                )
                .await
                .as_i64()
                .expect("a number");
            if overflow > 0 {
                let widest = b
                    .eval(
                        "const w = window.innerWidth; return [...document.querySelectorAll('body *')]
                           .filter(e => e.getBoundingClientRect().right > w + 0.5)
                           .slice(0, 5)
                           .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                                + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))
                           .join(', ')",
                    )
                    .await;
                too_wide.push(format!("/{screen} [{language}] +{overflow}px: {widest}"));
            }
        }
    }
    assert!(
        too_wide.is_empty(),
        "wider than a 320 px phone:\n{}",
        too_wide.join("\n")
    );
    phone.close().await;
    console.close().await;
}
