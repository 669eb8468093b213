//! Guards the *Change passphrase* screen in a real browser (issue 16): reached from the keys
//! menu; a new passphrase that is too short or not repeated is explained next to its field; a
//! wrong current one is refused and changes nothing; the right one reseals the key, which then
//! unlocks with the new passphrase only.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::*;
use tolem::storage::keystore::{self, UnlockError};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const OLD: &str = "ескі-фраза-1";
const NEW: &str = "жаңа-фраза-2";

fn fill(old: &str, new: &str, repeated: &str) {
    type_into("#passphrase-old", old);
    type_into("#passphrase-new", new);
    type_into("#passphrase-new-repeat", repeated);
    tap("#passphrase-submit");
}

#[wasm_bindgen_test]
async fn the_cashier_changes_the_passphrase_from_the_keys_menu() {
    forget_key().await;
    let (record, _) = keystore::create(&sample_card(), OLD).await.unwrap();
    let app = start_in_russian_at("/settings/keys");
    wait_for("#keys-passphrase", 5).await;
    tap("#keys-passphrase");
    wait_for("#passphrase-form", 5).await;

    fill(OLD, "12345", "12346");
    wait_for("#passphrase-new-error", 5).await;
    assert_eq!(
        text_of("#passphrase-new-error"),
        "Кодовая фраза должна быть не короче 6 символов."
    );
    assert_eq!(
        text_of("#passphrase-new-repeat-error"),
        "Кодовые фразы не совпадают."
    );

    fill("мимо-мимо-мимо", NEW, NEW);
    wait_for("#passphrase-old-error", 10).await;
    assert_eq!(
        text_of("#passphrase-old-error"),
        "Неверная кодовая фраза. Попробуйте ещё раз."
    );
    assert_eq!(keystore::load().await.unwrap().unwrap(), record);

    // Only the old field is wrong: fixed in place, the new one is still typed.
    type_into("#passphrase-old", OLD);
    tap("#passphrase-submit");
    wait_for("#passphrase-changed", 10).await;
    assert!(matches!(
        keystore::unlock(OLD).await,
        Err(UnlockError::WrongPassphrase { .. })
    ));
    assert_eq!(
        keystore::unlock(NEW).await.unwrap().public_key(),
        record.public_key
    );
    drop(app);
    forget_key().await;
}
