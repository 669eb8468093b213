//! Guards the key-card form in a real browser: missing or malformed fields are named next to the
//! field, in Russian, before anything is sent. (The passphrase rules of the generate form are
//! checked end to end, after a real gateway has issued a card: tests/e2e/tests/point_keys.rs.)
#![cfg(target_arch = "wasm32")]

mod support;

use support::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Requests the page made to the gateway's key-card address, as the browser itself recorded them.
fn key_card_requests() -> usize {
    let entries = leptos::prelude::window()
        .performance()
        .unwrap()
        .get_entries_by_type("resource");
    entries
        .iter()
        .filter_map(|e| e.dyn_into::<web_sys::PerformanceEntry>().ok())
        .filter(|e| e.name().contains("/api/v1/key-card"))
        .count()
}

#[wasm_bindgen_test]
async fn the_card_form_names_missing_fields_before_asking_the_gateway() {
    forget_key().await;
    let app = start_in_russian_at("/settings/keys/card");
    wait_for("#card-form", 5).await;

    tap("#card-submit");
    settle().await;
    assert_eq!(
        text_of("#point-code-error"),
        "Введите код точки: латинские буквы, цифры, «-» или «_», не больше 32 знаков."
    );
    assert_eq!(
        text_of("#point-password-error"),
        "Введите пароль точки (не больше 128 знаков)."
    );

    type_into("#point-code", "P 1001");
    type_into("#point-password", "tolem-demo-1001");
    tap("#card-submit");
    settle().await;
    assert!(
        find("#point-code-error").is_some(),
        "a space is not allowed"
    );
    assert!(find("#point-password-error").is_none());
    assert!(find("#card-progress").is_none() && find("#card-error").is_none());
    assert_eq!(
        key_card_requests(),
        0,
        "nothing may be sent while a field is wrong"
    );
    drop(app);
}
