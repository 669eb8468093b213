//! Guards the app shell in a real browser: the main menu renders in Russian by default, the
//! language switch changes what the cashier reads and is remembered across restarts, the menu
//! and an unreachable gateway shows as "offline"; index.html's first paint claims no connection
//! before the app has asked.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn main_menu_is_in_russian_on_first_start() {
    let app = start_fresh();
    settle().await;
    let text = page_text();
    for item in [
        "Провайдеры и платежи",
        "История и баланс",
        "Отправить сообщение",
        "Настройки и ключи",
    ] {
        assert!(
            text.contains(item),
            "menu item {item:?} missing from:\n{text}"
        );
    }
    assert_eq!(
        document()
            .document_element()
            .unwrap()
            .get_attribute("lang")
            .as_deref(),
        Some("ru")
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn language_switch_changes_the_text_and_is_remembered() {
    let app = start_fresh();
    settle().await;

    choose_language("kk").await;
    settle().await;
    assert!(
        page_text().contains("Провайдерлер мен төлемдер"),
        "Kazakh menu expected:\n{}",
        page_text()
    );

    choose_language("en").await;
    settle().await;
    let text = page_text();
    assert!(
        text.contains("Providers & payments"),
        "English menu expected:\n{text}"
    );
    assert!(
        !text.contains("Провайдеры и платежи"),
        "Russian text left behind:\n{text}"
    );
    drop(app);

    // A restart (the cashier closes and reopens the app) keeps English.
    let app = start_again();
    settle().await;
    assert!(
        page_text().contains("Settings & keys"),
        "language not remembered:\n{}",
        page_text()
    );
    drop(app);
    forget_language();
}

#[wasm_bindgen_test]
async fn unreachable_gateway_shows_offline() {
    // The test server has no /api/health, exactly like a captive portal or a dead gateway.
    let app = start_fresh();
    // The health check is a real request: wait for its answer to show, however long it takes.
    let mut indicator = None;
    for _ in 0..20 * 20 {
        indicator = document()
            .query_selector(".connection[data-connection='offline']")
            .unwrap();
        if indicator.is_some() {
            break;
        }
        settle().await;
    }
    let indicator = indicator.unwrap_or_else(|| {
        panic!(
            "the connection did not show offline within 20 s; the page shows:\n{}",
            page_text()
        )
    });
    assert!(indicator.text_content().unwrap().contains("Нет связи"));
    drop(app);
}

#[wasm_bindgen_test]
fn the_first_paint_does_not_say_online_before_anything_was_asked() {
    // index.html is on screen before the app has run a single health check: like the waiting
    // payments beside it, the connection is not known yet, and "online" could be untrue (the
    // offline shell opens exactly when there is no network).
    let index = include_str!("../index.html");
    let pill = index
        .split_once("<p class=\"connection")
        .expect("the first paint has the connection pill")
        .1;
    let pill = &pill[..pill.find("</p>").unwrap()];
    assert!(
        !pill.contains("online") && !pill.contains("В сети"),
        "the first paint says: {pill}"
    );
    assert!(pill.ends_with('…'), "the first paint says: {pill}");
}
