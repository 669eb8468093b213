//! Kazakh and English are fetched when a cashier chooses them (issue 14: Russian is compiled
//! into the app, the other two catalogues are not part of a first visit). A chosen language must
//! still open with no network, and one that cannot be loaded must leave the app as it was.
//!
//! Real parts only: the release build, the gateway binary, Chromium, the service worker, and an
//! outage made by killing the gateway.

use tolem_e2e::{Browser, Gateway, copy_build, free_port, path_from_env};

const RUSSIAN_MENU: &str = "Провайдеры и платежи";
const KAZAKH_MENU: &str = "Провайдерлер мен төлемдер";
const ENGLISH_MENU: &str = "Providers & payments";

/// Chooses `code` in the top bar's language list, as a cashier taps it — the app's, once
/// index.html's first paint (whose bar shows an inert list) has made way for it.
async fn choose(browser: &Browser, code: &str) {
    browser
        .wait_for(
            "the first paint to make way for the app",
            "return document.getElementById('boot') === null",
        )
        .await;
    browser.choose(".top-bar .language select", code).await;
}

async fn page_language(browser: &Browser) -> String {
    let lang = browser.eval("return document.documentElement.lang").await;
    lang.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chosen_language_opens_again_without_a_network() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let browser = Browser::start().await;

    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_text(RUSSIAN_MENU).await;
    browser.wait_for_worker().await;
    choose(&browser, "kk").await;
    browser.wait_for_text(KAZAKH_MENU).await;
    assert_eq!(page_language(&browser).await, "kk");

    // The gateway dies; the cashier opens the app again: in Kazakh, from the worker's cache.
    let app = gateway.url();
    gateway.kill();
    browser.client.goto(&app).await.unwrap();
    browser.wait_for_text(KAZAKH_MENU).await;
    browser.wait_for_text("Байланыс жоқ").await;
    assert!(!browser.text().await.contains(RUSSIAN_MENU));
    // English was never chosen online: the worker cached it with the rest of the app.
    choose(&browser, "en").await;
    browser.wait_for_text(ENGLISH_MENU).await;
    assert_eq!(page_language(&browser).await, "en");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_language_that_cannot_load_leaves_the_app_as_it_was_and_says_so() {
    // A build whose Kazakh catalogue the gateway cannot serve — as a first visit without a
    // network would find it before the worker cached the app.
    let dist = tempfile::tempdir().unwrap();
    copy_build(&path_from_env("TOLEM_DIST"), dist.path());
    let mut removed = 0;
    for entry in std::fs::read_dir(dist.path().join("i18n")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("kk-")
        {
            std::fs::remove_file(path).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0, "the release build has a Kazakh catalogue file");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), dist.path(), data.path());
    let browser = Browser::start().await;

    browser.client.goto(&gateway.url()).await.unwrap();
    browser.wait_for_text(RUSSIAN_MENU).await;
    choose(&browser, "kk").await;
    browser.wait_for_text("Язык не загрузился").await;
    browser
        .wait_for(
            "the list to show the language the app stayed in",
            "return document.querySelector('.top-bar .language select').value === 'ru'",
        )
        .await;
    assert!(browser.text().await.contains(RUSSIAN_MENU));
    assert_eq!(page_language(&browser).await, "ru");

    // Another language loads, and the message goes.
    choose(&browser, "en").await;
    browser.wait_for_text(ENGLISH_MENU).await;
    assert!(!browser.text().await.contains("did not load"));

    browser.close().await;
}
