//! Guards the promise of the foundation: once opened, the app works with no gateway at all, and a
//! new version reaches the cashier only when they press "Update".
//!
//! Real parts only: the release build, the gateway binary, Chromium and Firefox, the service
//! worker and an outage made by killing the gateway.

use tolem_e2e::{Browser, Engine, Gateway, free_port, newer_build, path_from_env};

/// Every page shows its connection; the main menu's four sections in Russian.
const MENU: [&str; 4] = [
    "Провайдеры и платежи",
    "История и баланс",
    "Отправить сообщение",
    "Настройки и ключи",
];

#[tokio::test(flavor = "multi_thread")]
async fn app_opens_offline_and_offers_the_next_version_in_chromium() {
    app_opens_offline_and_offers_the_next_version(Engine::Chromium).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_opens_offline_and_offers_the_next_version_in_firefox() {
    app_opens_offline_and_offers_the_next_version(Engine::Firefox).await;
}

async fn app_opens_offline_and_offers_the_next_version(engine: Engine) {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let gateway = Gateway::start(port, &dist, data.path());
    let browser = Browser::start_in(engine).await;

    // First visit: the worker installs and takes control of the page without a reload.
    browser.client.goto(&gateway.url()).await.unwrap();
    for item in MENU {
        browser.wait_for_text(item).await;
    }
    browser.wait_for_worker().await;
    browser
        .wait_for(
            "the indicator to say online",
            "return document.querySelector('.connection.online') !== null",
        )
        .await;
    // index.html's first paint has made way for the app (issue 14: the app is built over a few
    // tasks behind it): one top bar and one menu on the page, both shown.
    browser
        .wait_for(
            "the first paint to make way for the app",
            "return document.getElementById('boot') === null",
        )
        .await;
    let shown = "return [...document.querySelectorAll(arguments[0])]
        .map(e => e.getClientRects().length > 0)";
    for part in ["header.top-bar", "nav.menu"] {
        let visible = browser
            .client
            .execute(shown, vec![part.into()])
            .await
            .unwrap();
        assert_eq!(visible, serde_json::json!([true]), "{part} once, and shown");
    }
    assert_styled(&browser).await;

    // A real outage: the gateway dies. The cashier opens the app again: it opens, whole, with
    // its main menu. (Opened, not WebDriver's refresh: Firefox's driver reloads past the
    // service worker, as a forced reload does, which no cashier's reload does.)
    let app = gateway.url();
    gateway.kill();
    browser.client.goto(&app).await.unwrap();
    for item in MENU {
        browser.wait_for_text(item).await;
    }
    browser.wait_for_text("Нет связи").await;
    assert_styled(&browser).await;
    let status = browser
        .eval("return document.querySelector('.connection').dataset.connection")
        .await;
    assert_eq!(status, "offline");
    // Navigating inside the app offline works too (the router, from the cached shell).
    browser.click("a.tile-history").await;
    browser.wait_for_text("100 платежей").await;

    // The next version is deployed on the same address; the cashier comes back to the app.
    let next = tempfile::tempdir().unwrap();
    newer_build(&dist, next.path());
    let gateway = Gateway::start(port, next.path(), data.path());
    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_text("Доступна новая версия").await;
    // Nothing switched behind the cashier's back: the page is still the old version.
    let is_next = "return document.querySelector('meta[name=tolem-build]')?.content === 'next'";
    assert_eq!(browser.eval(is_next).await, false);

    // "Update" reloads into the new version, and the offer goes away.
    browser.click(".update button").await;
    browser
        .wait_for("the page to reload into the new version", is_next)
        .await;
    for item in MENU {
        browser.wait_for_text(item).await;
    }
    assert!(!browser.text().await.contains("Доступна новая версия"));

    browser.close().await;
}

/// The page wears its styles: the release build writes the stylesheet into index.html (issue
/// 14), and the gateway's Content-Security-Policy allows that `<style>` by its hash, online and
/// from the worker's cache. A refused stylesheet leaves the top bar without its brand colour.
async fn assert_styled(browser: &Browser) {
    let background = browser
        .eval("return getComputedStyle(document.querySelector('header.top-bar')).backgroundColor")
        .await;
    assert_eq!(background, "rgb(11, 110, 79)", "the top bar's brand colour");
}
