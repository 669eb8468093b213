//! Guards the provider list in a real browser: groups in order (mobile, internet, utilities)
//! with each provider's short label; the search box by name and by the first digits of a
//! number; a listbox the arrow keys walk (one option in the tab order, Enter opens it) as well
//! as taps; and, on a phone that never downloaded the catalogue and cannot reach the gateway, a
//! clear message instead of an empty page.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use support::catalogue::keep_sample_catalogue;
use support::*;
use tolem::storage::db;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn options() -> Vec<String> {
    let list = document()
        .query_selector_all("#app-under-test [role=option]")
        .unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
        .filter_map(|e| e.get_attribute("data-provider"))
        .collect()
}

fn press(selector: &str, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    find(selector).unwrap().dispatch_event(&event).unwrap();
}

fn focused_provider() -> Option<String> {
    document()
        .active_element()
        .and_then(|e| e.get_attribute("data-provider"))
}

#[wasm_bindgen_test]
async fn without_a_catalogue_and_a_gateway_the_cashier_is_told_why() {
    db::write_setting("catalogue", &wasm_bindgen::JsValue::NULL)
        .await
        .unwrap();
    let app = start_in_russian_at("/pay");
    wait_for("#providers-empty", 10).await;
    assert!(
        text_of("#providers-empty")
            .contains("Списка провайдеров на телефоне ещё нет. Подключитесь к интернету")
    );
    assert!(find("#providers-retry").is_some());
    drop(app);
}

#[wasm_bindgen_test]
async fn groups_search_and_the_arrow_keys() {
    keep_sample_catalogue().await;
    let app = start_in_russian_at("/pay");
    wait_for("#provider-list", 5).await;
    assert_eq!(
        options(),
        ["beeline", "kcell", "tele2", "kazakhtelecom", "alseco"]
    );
    assert_eq!(text_of("#group-mobile"), "Мобильная связь");
    assert_eq!(text_of("#group-internet"), "Интернет");
    assert_eq!(text_of("#group-utilities"), "Коммунальные услуги");
    assert_eq!(
        text_of("#provider-kazakhtelecom .provider-label"),
        "Казахтелеком"
    );
    // One option in the tab order.
    assert_eq!(
        attribute_of("#provider-beeline", "tabindex").as_deref(),
        Some("0")
    );
    assert_eq!(
        attribute_of("#provider-kcell", "tabindex").as_deref(),
        Some("-1")
    );

    // By name, case aside; by the first digits of a number.
    type_into("#provider-search", "TELE");
    settle().await;
    assert_eq!(options(), ["tele2", "kazakhtelecom"]);
    type_into("#provider-search", "701");
    settle().await;
    assert_eq!(options(), ["kcell"]);
    type_into("#provider-search", "нет такого");
    settle().await;
    assert!(find("#providers-none-found").is_some());
    type_into("#provider-search", "");
    settle().await;

    // Down from the search box into the list, down again, up, End, Home — then Enter opens.
    press("#provider-search", "ArrowDown");
    settle().await;
    assert_eq!(focused_provider().as_deref(), Some("beeline"));
    press("#provider-list", "ArrowDown");
    settle().await;
    assert_eq!(focused_provider().as_deref(), Some("kcell"));
    assert_eq!(
        attribute_of("#provider-kcell", "aria-selected").as_deref(),
        Some("true")
    );
    assert_eq!(
        attribute_of("#provider-kcell", "tabindex").as_deref(),
        Some("0")
    );
    press("#provider-list", "End");
    settle().await;
    assert_eq!(focused_provider().as_deref(), Some("alseco"));
    press("#provider-list", "ArrowDown");
    settle().await;
    assert_eq!(
        focused_provider().as_deref(),
        Some("alseco"),
        "stays on the last"
    );
    press("#provider-list", "Home");
    press("#provider-list", "ArrowDown");
    settle().await;
    assert_eq!(focused_provider().as_deref(), Some("kcell"));
    press("#provider-list", "Enter");
    settle().await;
    assert_eq!(window().location().pathname().unwrap(), "/pay/kcell");
    wait_for("#pay-form", 5).await;
    drop(app);

    // A tap opens a provider too.
    let app = start_in_russian_at("/pay");
    wait_for("#provider-list", 5).await;
    tap("#provider-alseco");
    settle().await;
    assert_eq!(window().location().pathname().unwrap(), "/pay/alseco");
    drop(app);
}
