//! Guards the main menu's navigation in a real browser: each tile opens its page, and the page
//! leads back to the menu. (A file of its own: a page hosts one app router at a time.)
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use support::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn click(selector: &str) {
    let element: HtmlElement = document()
        .query_selector(selector)
        .unwrap()
        .unwrap()
        .unchecked_into();
    element.click();
}

#[wasm_bindgen_test]
async fn every_tile_opens_its_page_and_leads_back() {
    let app = start_fresh();
    settle().await;
    let pages = [
        ("a.tile-pay", "/pay", "Провайдеры и платежи", "провайдеров"),
        (
            "a.tile-history",
            "/history",
            "История и баланс",
            "100 платежей",
        ),
        (
            "a.tile-message",
            "/message",
            "Отправить сообщение",
            "подпишет",
        ),
        ("a.tile-shift", "/shift", "Смена", "подписывает отчёт"),
        (
            "a.tile-settings",
            "/settings",
            "Настройки и ключи",
            "отпечатка",
        ),
    ];
    for (tile, path, heading, promise) in pages {
        click(tile);
        settle().await;
        assert_eq!(window().location().pathname().unwrap(), path);
        let h1 = document()
            .query_selector("#app-under-test h1")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap();
        assert_eq!(h1, heading);
        // What the page promises may need its data first (the catalogue, the history): wait for
        // it as a person would, not for a fixed time.
        wait_for_page_text(promise, 10).await;
        // The connection indicator is on every page.
        assert!(
            document()
                .query_selector("#app-under-test .connection")
                .unwrap()
                .is_some()
        );

        click("nav.back a");
        settle().await;
        assert_eq!(window().location().pathname().unwrap(), "/");
        assert!(page_text().contains("История и баланс"));
    }
    drop(app);
}

/// The heading of the screen on show.
fn heading() -> String {
    document()
        .query_selector("#app-under-test h1")
        .unwrap()
        .map(|h1| h1.text_content().unwrap_or_default())
        .unwrap_or_default()
}

/// Waits (up to 10 s) until the screen's heading is `text`.
async fn wait_for_heading(text: &str) {
    for _ in 0..200 {
        if heading() == text {
            return;
        }
        settle().await;
    }
    panic!("the heading stayed {:?}, not {text:?}", heading());
}

#[wasm_bindgen_test]
async fn back_and_forward_follow_the_screens_and_a_jump_stays_on_its_screen() {
    let app = start_fresh();
    settle().await;
    let entries = window().history().unwrap().length().unwrap();
    click("a.tile-pay");
    wait_for_heading("Провайдеры и платежи").await;
    // A link opens its screen as one new entry in the browser's history.
    assert_eq!(window().history().unwrap().length().unwrap(), entries + 1);

    window().history().unwrap().back().unwrap();
    wait_for_page_text("История и баланс", 10).await;
    assert_eq!(window().location().pathname().unwrap(), "/");

    window().history().unwrap().forward().unwrap();
    wait_for_heading("Провайдеры и платежи").await;
    assert_eq!(window().location().pathname().unwrap(), "/pay");

    // The skip link jumps to the screen's content and leaves the screen as it is: the same
    // heading element, not one built again.
    find("h1")
        .unwrap()
        .set_attribute("data-before-jump", "")
        .unwrap();
    click("a.skip");
    settle().await;
    assert_eq!(window().location().pathname().unwrap(), "/pay");
    assert_eq!(window().location().hash().unwrap(), "#main");
    assert!(find("h1[data-before-jump]").is_some());
    drop(app);
}

#[wasm_bindgen_test]
async fn an_address_the_app_does_not_know_says_so_and_leads_to_the_menu() {
    let app = start_in_russian_at("/pay/kcell/extra");
    wait_for_heading("Страница не найдена").await;
    click("nav.back a");
    wait_for_page_text("История и баланс", 10).await;
    assert_eq!(window().location().pathname().unwrap(), "/");
    drop(app);
}
