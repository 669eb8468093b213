//! Issue 14 item 1: every screen but the main menu (the payment screens, settings, history,
//! shift, message, the card bill) is code in chunks of the module, loaded on first use — and,
//! offline-first, still open with no network at all once one visit has installed the service
//! worker, which precaches them. The card bill shown offline after one visit is proven by
//! tests/e2e/tests/card_payment.rs (the cashier's phone makes its bill with the network down).
//!
//! Real parts only: the release build (split by scripts/build-app.sh), the gateway binary,
//! Chromium, the service worker and an outage made by killing the gateway.

use serde_json::json;
use tolem_e2e::{
    Browser, Console, Gateway, Phone, free_port, path_from_env, start_card_service, start_provider,
};

/// Counts, on every page of the browser, the split module's chunks (`*.wasm` other than the
/// main `*_bg.wasm`) the page instantiates, whether from the network, through the worker or
/// from the worker's cache read directly (xtask/src/split.rs): only the first two would show in
/// the page's resource timing.
const COUNT_CHUNKS: &str = "window.__tolemChunks = 0;
    const instantiate = WebAssembly.instantiateStreaming;
    WebAssembly.instantiateStreaming = function (source, imports) {
        Promise.resolve(source).then((response) => {
            const path = new URL(response.url).pathname;
            if (path.endsWith('.wasm') && !path.endsWith('_bg.wasm')) window.__tolemChunks++;
        }, () => {});
        return instantiate.call(this, source, imports);
    };";

/// How many chunks this page has instantiated so far ([`COUNT_CHUNKS`]).
const CHUNKS_LOADED: &str = "return window.__tolemChunks";

/// Empties the worker's precache, as a first visit cut off before the worker cached the build
/// finds it: the page's chunk loader looks there before the network (xtask/src/split.rs).
const EMPTY_CACHES: &str = "const done = arguments[arguments.length - 1];
    caches.keys().then((names) => Promise.all(names.map((name) => caches.delete(name))))
        .then(() => done(true), (e) => done(String(e)));";

/// Only the settings screen says this (its language section).
const SETTINGS_TEXT: &str = "Язык интерфейса запоминается на этом телефоне.";
/// What a screen whose chunk cannot be fetched says (ru, the default language).
const NOT_LOADED_TEXT: &str = "Этот экран ещё не загружен на телефон";
/// Only the shift screen says this.
const SHIFT_TEXT: &str = "Откройте смену, когда начинаете принимать платежи";

#[tokio::test(flavor = "multi_thread")]
async fn screens_loaded_on_first_use_open_offline_after_one_visit() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;
    browser
        .devtools(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": COUNT_CHUNKS }),
        )
        .await;

    // One visit: the main menu, and the worker installed (it precaches the whole build, the
    // chunks included, before it takes control).
    let app = gateway.url();
    browser.client.goto(&app).await.unwrap();
    browser.wait_for_text("Провайдеры и платежи").await;
    browser.wait_for_worker().await;
    // The menu did not need a chunk, and a first visit leaves the payment screens' chunk to the
    // worker's precaching (src/app.rs): the page has loaded none.
    assert_eq!(browser.eval(CHUNKS_LOADED).await, 0);

    // The network is gone. Settings opens from the menu: its code is a chunk this page had
    // never fetched, and it comes from the worker's cache.
    gateway.kill();
    browser.click("a.tile-settings").await;
    browser.wait_for_text(SETTINGS_TEXT).await;
    let loaded = browser.eval(CHUNKS_LOADED).await.as_u64().unwrap();
    assert!(
        loaded >= 1,
        "opening settings should load its chunk, {loaded} loaded"
    );

    // Back to the menu and on to the payments, still offline: their chunks come from the cache
    // too, and the catalogue from the phone's storage.
    browser.click("a.brand").await;
    browser.click("a.tile-pay").await;
    browser.wait_for_element("#provider-search").await;
    assert!(browser.eval(CHUNKS_LOADED).await.as_u64().unwrap() > loaded);

    // Another screen's chunk, opened by its address with no network: the page, the module and
    // the chunk all come from the worker.
    browser
        .client
        .goto(&format!("{}/shift", app.trim_end_matches('/')))
        .await
        .unwrap();
    browser.wait_for_text(SHIFT_TEXT).await;
    assert!(browser.eval(CHUNKS_LOADED).await.as_u64().unwrap() >= 1);

    browser.close().await;
}

/// A chunk that cannot be fetched — a first visit cut off before the worker had cached it — is
/// said on the screen instead of taking the app down (a panic would abort the whole module), and
/// the screen opens once the chunk can be fetched.
#[tokio::test(flavor = "multi_thread")]
async fn a_screen_whose_chunk_cannot_be_fetched_says_so_and_the_app_goes_on() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;
    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_text("Провайдеры и платежи").await;
    browser.wait_for_worker().await;

    // Nothing is cached, the page's requests go past the worker, and the chunks' fail.
    assert_eq!(browser.eval_async(EMPTY_CACHES).await, true);
    browser.devtools("Network.enable", json!({})).await;
    browser
        .devtools("Network.setBypassServiceWorker", json!({ "bypass": true }))
        .await;
    browser
        .devtools(
            "Network.setBlockedURLs",
            json!({ "urls": ["*/split_*.wasm", "*/chunk_*.wasm"] }),
        )
        .await;
    browser.click("a.tile-shift").await;
    browser.wait_for_text(NOT_LOADED_TEXT).await;

    // The app goes on: back to the menu, and the payments are there.
    browser.click("a.brand").await;
    browser.wait_for_element("a.tile-pay").await;

    // The chunks can be fetched again: the same screen opens.
    browser
        .devtools("Network.setBlockedURLs", json!({ "urls": [] }))
        .await;
    browser.click("a.tile-shift").await;
    browser.wait_for_text(SHIFT_TEXT).await;

    browser.close().await;
}

/// The card bill is a chunk too (a cash payment never needs it): when it cannot be fetched, the
/// payment page says so instead of taking the app down, the bill is stored all the same, and
/// the history shows it once the chunk can be fetched.
#[tokio::test(flavor = "multi_thread")]
async fn a_card_bill_whose_chunk_cannot_be_fetched_says_so_and_the_history_shows_it_later() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let provider = start_provider(&["--open"]).await;
    let card = start_card_service().await;
    let gateway = Gateway::start_with_cards(free_port(), &dist, data.path(), &provider.url, &card);
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&gateway.url(), &mut console).await;
    let b = &phone.browser;

    // Nothing is cached (the worker has done its precaching first), the page's requests go past
    // the worker, and the bill's chunk fails (the payment screen's own chunks are loaded).
    b.wait_for_worker().await;
    assert_eq!(b.eval_async(EMPTY_CACHES).await, true);
    b.devtools("Network.enable", json!({})).await;
    b.devtools("Network.setBypassServiceWorker", json!({ "bypass": true }))
        .await;
    b.devtools(
        "Network.setBlockedURLs",
        json!({ "urls": ["*/split_*.wasm", "*/chunk_*.wasm"] }),
    )
    .await;
    b.fill("#pay-account", "7011234567").await;
    b.fill("#pay-amount", "2000").await;
    b.click("#pay-method-card").await;
    b.click("#pay-bill").await;
    b.click("#confirm-submit").await;
    b.wait_for_element("#screen-not-loaded").await;
    b.wait_for_text(NOT_LOADED_TEXT).await;
    assert_eq!(
        b.eval("return document.querySelector('#bill') === null")
            .await,
        true,
        "no bill screen without its chunk"
    );

    // The chunk can be fetched again: the stored bill is in the history, and its page shows it.
    b.devtools("Network.setBlockedURLs", json!({ "urls": [] }))
        .await;
    b.client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    let entry = "#history-list li.payment[data-method='card'] a";
    b.wait_for_element(entry).await;
    b.click(entry).await;
    b.wait_for_element("#bill[data-state='awaiting_card'] #bill-qr")
        .await;

    phone.close().await;
    console.close().await;
}
