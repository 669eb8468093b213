//! Starting the app in the test page the way a phone would, acting as the cashier does, and
//! reading what the cashier sees. `card` makes key cards for tests of the key store,
//! `catalogue` keeps a provider catalogue on the phone, `payments` writes payments with the
//! real outbox store, `gateway` answers the network as the gateway would.
#![allow(dead_code)] // each test file uses a different subset

pub mod card;
pub mod catalogue;
pub mod gateway;
pub mod payments;

use std::time::Duration;

use leptos::prelude::*;
use tolem::App;
use tolem::language::LANGUAGE_KEY;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement};

/// Starts the app as on a phone that never ran it: no remembered language, a fresh page.
pub fn start_fresh() -> Box<dyn std::any::Any> {
    forget_language();
    start_again()
}

/// Starts the app again on the same phone (what is remembered stays).
/// The returned handle unmounts the app when dropped.
pub fn start_again() -> Box<dyn std::any::Any> {
    start_at("/")
}

/// Starts the app on `path` on a phone that never chose a language (so it speaks Russian).
pub fn start_in_russian_at(path: &str) -> Box<dyn std::any::Any> {
    forget_language();
    start_at(path)
}

/// Starts the app on `path`, as when the cashier opens a bookmarked screen.
pub fn start_at(path: &str) -> Box<dyn std::any::Any> {
    // Mount into a fresh element: the test runner reports through its own elements in <body>.
    if let Some(old) = document().get_element_by_id("app-under-test") {
        old.remove();
    }
    let root: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    root.set_id("app-under-test");
    document().body().unwrap().append_child(&root).unwrap();
    window()
        .history()
        .unwrap()
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path))
        .unwrap();
    Box::new(leptos::mount::mount_to(root, App))
}

pub fn forget_language() {
    window()
        .local_storage()
        .unwrap()
        .unwrap()
        .remove_item(LANGUAGE_KEY)
        .unwrap();
}

pub fn page_text() -> String {
    document()
        .get_element_by_id("app-under-test")
        .unwrap()
        .unchecked_into::<HtmlElement>()
        .inner_text()
}

/// Lets effects, resources and the router settle.
pub async fn settle() {
    gloo_timers_sleep(Duration::from_millis(50)).await;
}

/// Waits `duration` with the page's timer, as the app does (`tolem::task::sleep`).
pub async fn gloo_timers_sleep(duration: Duration) {
    tolem::task::sleep(duration).await;
}

/// Picks `code` in the top bar's language switch, once the app has built its bar (it builds the
/// bar a task after it mounts, src/app.rs).
pub async fn choose_language(code: &str) {
    let select: HtmlSelectElement = wait_for(".top-bar select", 10).await.unchecked_into();
    select.set_value(code);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

/// The element the cashier would see for `selector`, if it is on the page now.
pub fn find(selector: &str) -> Option<HtmlElement> {
    document()
        .query_selector(&format!("#app-under-test {selector}"))
        .unwrap()
        .map(JsCast::unchecked_into)
}

/// Waits (up to `seconds`) until `selector` is on the page; fails with what the page shows.
pub async fn wait_for(selector: &str, seconds: u32) -> HtmlElement {
    for _ in 0..seconds * 20 {
        if let Some(element) = find(selector) {
            return element;
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{selector} did not appear within {seconds} s; the page shows:\n{}",
        page_text()
    );
}

/// Waits (up to `seconds`) until `selector` has left the page.
pub async fn wait_until_gone(selector: &str, seconds: u32) {
    for _ in 0..seconds * 20 {
        if find(selector).is_none() {
            return;
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{selector} still there after {seconds} s; the page shows:\n{}",
        page_text()
    );
}

/// The visible text of `selector` (which must be there).
pub fn text_of(selector: &str) -> String {
    find(selector)
        .unwrap_or_else(|| panic!("{selector} is not on the page:\n{}", page_text()))
        .inner_text()
}

/// Taps `selector`.
pub fn tap(selector: &str) {
    find(selector)
        .unwrap_or_else(|| panic!("{selector} is not on the page:\n{}", page_text()))
        .click();
}

/// Types `value` into the input `selector` (as a person would: the page sees an `input` event).
pub fn type_into(selector: &str, value: &str) {
    let input: HtmlInputElement = find(selector)
        .unwrap_or_else(|| panic!("{selector} is not on the page:\n{}", page_text()))
        .unchecked_into();
    input.set_value(value);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    input
        .dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap())
        .unwrap();
}

/// Starts from a phone with no point key (and no count of failed unlocks).
pub async fn forget_key() {
    tolem::storage::keystore::delete().await.unwrap();
}

/// Chooses `value` in the `<select>` `selector`, as a person would (a `change` event follows).
pub fn choose(selector: &str, value: &str) {
    let select: HtmlSelectElement = find(selector)
        .unwrap_or_else(|| panic!("{selector} is not on the page:\n{}", page_text()))
        .unchecked_into();
    select.set_value(value);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    select
        .dispatch_event(&web_sys::Event::new_with_event_init_dict("change", &init).unwrap())
        .unwrap();
}

/// An attribute of `selector` (which must be there).
pub fn attribute_of(selector: &str, name: &str) -> Option<String> {
    find(selector)
        .unwrap_or_else(|| panic!("{selector} is not on the page:\n{}", page_text()))
        .get_attribute(name)
}

/// Waits (up to `seconds`) until `selector` shows `text`.
pub async fn wait_for_text(selector: &str, text: &str, seconds: u32) {
    for _ in 0..seconds * 20 {
        if find(selector).is_some_and(|e| e.inner_text() == text) {
            return;
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{selector} did not show {text:?} within {seconds} s; the page shows:\n{}",
        page_text()
    );
}

/// Waits (up to `seconds`) until the page shows `text` somewhere: what a person waits for when
/// a page is still loading its data.
pub async fn wait_for_page_text(text: &str, seconds: u32) {
    for _ in 0..seconds * 20 {
        if page_text().contains(text) {
            return;
        }
        gloo_timers_sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the page did not show {text:?} within {seconds} s; it shows:\n{}",
        page_text()
    );
}

/// Requests the page made whose address contains `part`, as the browser itself recorded them.
pub fn requests_to(part: &str) -> usize {
    let entries = window()
        .performance()
        .unwrap()
        .get_entries_by_type("resource");
    entries
        .iter()
        .filter_map(|e| e.dyn_into::<web_sys::PerformanceEntry>().ok())
        .filter(|e| e.name().contains(part))
        .count()
}

/// The app's own style sheet, as a phone loads it (the test page has none): for tests that
/// measure what the cashier sees (widths at 320 px, what is visible).
pub fn load_style_sheet() {
    let document = leptos::prelude::document();
    if document.get_element_by_id("tolem-style").is_some() {
        return;
    }
    let style = document.create_element("style").unwrap();
    style.set_id("tolem-style");
    style.set_text_content(Some(include_str!("../../style.css")));
    document.head().unwrap().append_child(&style).unwrap();
}

/// Unlocks the point's key on the unlock form the screen shows, as the cashier types it, and
/// waits until the form has gone.
pub async fn unlock_with(passphrase: &str) {
    wait_for("#unlock-form", 5).await;
    type_into("#unlock-passphrase", passphrase);
    tap("#unlock-submit");
    wait_until_gone("#unlock-form", 20).await;
}
