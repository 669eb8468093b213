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
