//! Starting the app in the test page the way a phone would, and reading what the cashier sees.
#![allow(dead_code)] // each test file uses a different subset

use std::time::Duration;

use leptos::prelude::*;
use tolem::App;
use tolem::language::LANGUAGE_KEY;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlSelectElement};

/// Starts the app as on a phone that never ran it: no remembered language, a fresh page.
pub fn start_fresh() -> Box<dyn std::any::Any> {
    forget_language();
    start_again()
}

/// Starts the app again on the same phone (what is remembered stays).
/// The returned handle unmounts the app when dropped.
pub fn start_again() -> Box<dyn std::any::Any> {
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
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/"))
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

pub async fn gloo_timers_sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                duration.as_millis() as i32,
            )
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

pub fn choose_language(code: &str) {
    let select: HtmlSelectElement = document()
        .query_selector(".top-bar select")
        .unwrap()
        .unwrap()
        .unchecked_into();
    select.set_value(code);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}
