//! Guards the forms of the key screens in a real browser: the card form names missing fields
//! before anything is sent, and the key-generation form explains, in Russian and next to the
//! field concerned, a passphrase that is too short and a repetition that does not match — and
//! makes no key in either case. (The card comes from a stand-in gateway.)
#![cfg(target_arch = "wasm32")]

mod support;

use support::gateway::{DEMO_PASSWORD, DEMO_POINT, FakeGateway};
use support::*;
use tolem::storage::keystore;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn the_card_form_names_missing_fields_before_asking_the_gateway() {
    let gateway = FakeGateway::install();
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
    type_into("#point-password", DEMO_PASSWORD);
    tap("#card-submit");
    settle().await;
    assert!(
        find("#point-code-error").is_some(),
        "a space is not allowed"
    );
    assert!(find("#point-password-error").is_none());
    assert!(
        gateway.seen().is_empty(),
        "nothing should have been sent: {:?}",
        gateway.seen()
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn the_generate_form_explains_a_short_passphrase_and_a_mismatch_in_russian() {
    let gateway = FakeGateway::install();
    forget_key().await;
    let app = start_in_russian_at("/settings/keys/card");
    wait_for("#card-form", 5).await;
    type_into("#point-code", DEMO_POINT);
    type_into("#point-password", DEMO_PASSWORD);
    tap("#card-submit");
    wait_for("#card-next", 5).await;
    tap("#card-next");
    wait_for("#generate-form", 5).await;

    type_into("#passphrase", "12345");
    type_into("#passphrase-repeat", "12345");
    tap("#generate-submit");
    settle().await;
    assert_eq!(
        text_of("#passphrase-error"),
        "Кодовая фраза должна быть не короче 6 символов."
    );
    assert!(find("#passphrase-repeat-error").is_none());

    type_into("#passphrase", "123456");
    type_into("#passphrase-repeat", "123465");
    tap("#generate-submit");
    settle().await;
    assert_eq!(
        text_of("#passphrase-repeat-error"),
        "Кодовые фразы не совпадают."
    );
    assert!(find("#passphrase-error").is_none());

    assert_eq!(keystore::load().await.unwrap(), None, "no key may be made");
    assert!(
        gateway
            .seen()
            .iter()
            .all(|seen| seen.path == "/api/v1/key-card"),
        "only the card was asked for"
    );
    drop(app);
}
