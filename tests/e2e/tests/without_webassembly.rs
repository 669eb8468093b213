//! Guards what a browser without WebAssembly shows (an old Android phone's stock browser): not
//! index.html's inert first paint with a menu that does nothing, but a message, in the phone's
//! language (Russian unless it is Kazakh or English), that this browser cannot run the app and
//! which browsers can — on a 320 px phone, at any of the app's addresses.
//!
//! Real parts: the release build served by the gateway (with its Content-Security-Policy, which
//! must allow the page's inline scripts), and Chromium emulating the phone's language and screen.
//! WebAssembly is taken away by a script DevTools runs before the page's own in every document:
//! V8's `--js-flags=--noexpose-wasm` no longer hides it (Chromium 156).

use serde_json::json;
use tolem_e2e::{Browser, Gateway, free_port, path_from_env};

const MESSAGE: &str = "document.getElementById('no-wasm')";

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_without_webassembly_is_told_to_use_another() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;
    browser
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": "delete globalThis.WebAssembly" }),
        )
        .await;
    browser
        .devtools(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 320, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
    let user_agent = browser.eval("return navigator.userAgent").await;

    for (phone_language, path, lang, words) in [
        ("ru-RU", "", "ru", "Этот браузер не может запустить Төлем"),
        ("kk-KZ", "", "kk", "Бұл браузер Төлемді іске қоса алмайды"),
        ("en-US", "", "en", "This browser cannot run Tolem"),
        // Any other language: Russian, as the rest of the first paint.
        ("de-DE", "", "ru", "Этот браузер не может запустить Төлем"),
        // Opened at a screen's address (the first paint shows only the bar there).
        ("en-US", "pay", "en", "This browser cannot run Tolem"),
    ] {
        browser
            .devtools(
                "Emulation.setUserAgentOverride",
                json!({ "userAgent": user_agent, "acceptLanguage": phone_language }),
            )
            .await;
        browser
            .client
            .goto(&format!("{}{path}", gateway.url()))
            .await
            .unwrap();
        let case = format!("{phone_language} /{path}");
        assert_eq!(
            browser.eval("return typeof WebAssembly").await,
            json!("undefined"),
            "{case}: the page still has WebAssembly"
        );
        browser
            .wait_for(
                &format!("{case}: the message"),
                &format!("return {MESSAGE} !== null"),
            )
            .await;
        let text = browser.text_of("#no-wasm").await;
        assert!(text.contains(words), "{case}: {text:?}");
        assert!(text.contains("Chrome, Firefox"), "{case}: {text:?}");
        assert!(text.contains("Safari"), "{case}: {text:?}");
        assert_eq!(
            browser.eval("return document.documentElement.lang").await,
            json!(lang),
            "{case}"
        );
        // Nothing is left that looks usable and does nothing.
        let dead = browser
            .eval("return document.querySelector('.menu, select, #boot[inert]') !== null")
            .await;
        assert_eq!(
            dead,
            json!(false),
            "{case}: the inert first paint is still there"
        );
        // Read whole on a 320 px phone: nothing wider than the screen, the message inside it.
        let fits = browser
            .eval(&format!(
                "const r = {MESSAGE}.getBoundingClientRect(); \
                 return document.documentElement.scrollWidth <= 320 && r.left >= 0 \
                 && r.right <= 320 && r.height > 0"
            ))
            .await;
        assert_eq!(fits, json!(true), "{case}: the message does not fit 320 px");
    }

    browser.close().await;
}
