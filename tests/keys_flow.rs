//! Guards the key screens end to end in a real browser, against a stand-in gateway that speaks
//! the protocol: a new phone gets its card (a wrong password is explained), makes and registers
//! a key and shows the fingerprint the gateway holds (a captive portal's page is no answer); a signed check learns the dealer certified
//! it, or that it does not know it; a forged answer is not believed; unlocking explains a wrong passphrase, counts down after
//! repeated ones, and the top bar locks again; deleting revokes at the gateway when it can and
//! always wipes the phone.
#![cfg(target_arch = "wasm32")]

mod support;

use support::gateway::{DEMO_PASSWORD, DEMO_POINT, DEMO_SERIAL, FakeGateway, Fault};
use support::*;
use tolem::storage::keystore;
use tolem_protocol::keys::PublicKey;
use tolem_protocol::messages::KeyState;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PASSPHRASE: &str = "касса-2024";

/// A phone whose key was made and registered on an earlier visit (now locked, as after a restart).
async fn enrolled(gateway: &FakeGateway) -> PublicKey {
    forget_key().await;
    let (record, _) = keystore::create(&gateway.card(), PASSPHRASE).await.unwrap();
    keystore::set_state(Some(KeyState::Pending)).await.unwrap();
    gateway.register(record.public_key);
    record.public_key
}

/// Types a passphrase into the unlock form and waits until it has been checked.
async fn unlock_with(passphrase: &str) {
    wait_for("#unlock-form", 5).await;
    type_into("#unlock-passphrase", passphrase);
    tap("#unlock-submit");
    settle().await;
    wait_until_gone("#unlock-progress", 5).await;
}

#[wasm_bindgen_test]
async fn a_new_phone_gets_its_card_makes_and_registers_a_key_and_shows_its_fingerprint() {
    let gateway = FakeGateway::install();
    forget_key().await;
    let app = start_in_russian_at("/settings");
    wait_for("#settings-keys-link", 5).await;
    tap("#settings-keys-link");
    wait_for("#keys-get-card", 5).await;
    tap("#keys-get-card");
    wait_for("#card-form", 5).await;

    type_into("#point-code", DEMO_POINT);
    type_into("#point-password", "tolem-demo-1002");
    tap("#card-submit");
    assert_eq!(
        wait_for("#card-error", 5).await.inner_text(),
        "Неверный код точки или пароль"
    );

    type_into("#point-password", DEMO_PASSWORD);
    tap("#card-submit");
    let result = wait_for("#card-result", 5).await.inner_text();
    assert!(result.contains("Карточка ключа получена."), "{result}");
    assert_eq!(text_of("#card-serial"), DEMO_SERIAL);
    assert!(text_of("#card-point").starts_with(DEMO_POINT));

    tap("#card-next");
    wait_for("#generate-form", 5).await;
    type_into("#passphrase", PASSPHRASE);
    type_into("#passphrase-repeat", PASSPHRASE);
    tap("#generate-submit");

    // Registration starts by itself once the key is made.
    let outcome = wait_for("#register-result[data-outcome=registered]", 15).await;
    assert!(
        outcome
            .inner_text()
            .contains("Ключ зарегистрирован. Ждём, когда дилер его заверит."),
        "{}",
        outcome.inner_text()
    );
    let stored = keystore::load().await.unwrap().unwrap();
    assert_eq!(stored.state, Some(KeyState::Pending));
    assert_eq!(
        gateway.registered(),
        Some((stored.public_key, KeyState::Pending))
    );
    let registration = gateway
        .seen()
        .into_iter()
        .find(|seen| seen.path == "/api/v1/keys")
        .unwrap();
    assert_eq!(registration.signer.as_deref(), Some(DEMO_SERIAL));

    tap("#register-next");
    wait_for("#key-view", 5).await;
    let key = stored.public_key;
    assert_eq!(text_of("#key-fingerprint"), key.fingerprint().as_str());
    assert_eq!(
        find("#key-view")
            .unwrap()
            .get_attribute("data-with-fingerprint"),
        Some(key.with_fingerprint())
    );
    assert!(text_of("#key-public").contains(&key.to_string()));
    assert!(find("#key-qr svg").is_some(), "the QR code is drawn");
    assert_eq!(
        find("#key-state")
            .unwrap()
            .get_attribute("data-key-state")
            .as_deref(),
        Some("pending")
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn a_captive_portal_page_is_not_taken_for_an_answer() {
    let gateway = FakeGateway::install();
    forget_key().await;
    gateway.set_fault(Fault::CaptivePortal);
    let app = start_in_russian_at("/settings/keys/card");
    wait_for("#card-form", 5).await;
    type_into("#point-code", DEMO_POINT);
    type_into("#point-password", DEMO_PASSWORD);
    tap("#card-submit");
    assert_eq!(
        wait_for("#card-error", 5).await.inner_text(),
        "Шлюз не дал понятного ответа. Повторите позже."
    );
    assert!(find("#card-next").is_none());
    drop(app);
}

#[wasm_bindgen_test]
async fn a_signed_check_learns_that_the_dealer_certified_the_key() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    let app = start_in_russian_at("/settings/keys/view");
    unlock_with(PASSPHRASE).await;
    wait_for("#key-check", 5).await;

    gateway.certify();
    tap("#key-check");
    assert_eq!(
        wait_for("#key-check-result", 5).await.inner_text(),
        "Шлюз принял подписанный запрос: ключ заверен."
    );
    settle().await;
    assert_eq!(
        find("#key-state")
            .unwrap()
            .get_attribute("data-key-state")
            .as_deref(),
        Some("certified")
    );
    assert_eq!(
        keystore::load().await.unwrap().unwrap().state,
        Some(KeyState::Certified)
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn a_key_the_gateway_does_not_know_is_shown_as_unregistered() {
    let gateway = FakeGateway::install();
    forget_key().await;
    keystore::create(&gateway.card(), PASSPHRASE).await.unwrap();
    keystore::set_state(Some(KeyState::Pending)).await.unwrap();
    let app = start_in_russian_at("/settings/keys/view");
    unlock_with(PASSPHRASE).await;
    wait_for("#key-check", 5).await;

    tap("#key-check");
    let result = wait_for("#key-check-result", 5).await;
    assert_eq!(
        result.get_attribute("data-key-state").as_deref(),
        Some("unregistered")
    );
    assert_eq!(
        result.inner_text(),
        "Ключ создан, но ещё не зарегистрирован на шлюзе."
    );
    assert_eq!(keystore::load().await.unwrap().unwrap().state, None);
    drop(app);
}

#[wasm_bindgen_test]
async fn an_answer_not_signed_by_the_gateway_is_not_believed() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    gateway.certify();
    gateway.set_fault(Fault::ForgedSignature);
    let app = start_in_russian_at("/settings/keys/view");
    unlock_with(PASSPHRASE).await;
    wait_for("#key-check", 5).await;

    tap("#key-check");
    assert_eq!(
        wait_for("#key-check-result", 5).await.inner_text(),
        "Шлюз не дал понятного ответа. Повторите позже."
    );
    assert_eq!(
        keystore::load().await.unwrap().unwrap().state,
        Some(KeyState::Pending),
        "a forged 'certified' must not change what the phone believes"
    );
    drop(app);
}

#[wasm_bindgen_test]
async fn a_wrong_passphrase_says_so_and_the_top_bar_locks_again() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    let app = start_in_russian_at("/settings/keys");
    wait_for("#keys-status[data-lock=locked]", 5).await;

    unlock_with("касса-2025").await;
    assert_eq!(
        wait_for("#unlock-error", 5).await.inner_text(),
        "Неверная кодовая фраза. Попробуйте ещё раз."
    );
    unlock_with(PASSPHRASE).await;
    wait_for("#keys-status[data-lock=unlocked]", 5).await;
    assert!(find("#unlock-form").is_none());
    assert!(find("#key-lock").is_some());

    tap("#header-lock");
    wait_for("#keys-status[data-lock=locked]", 5).await;
    assert!(find("#unlock-form").is_some());
    assert!(find("#header-unlock").is_some());
    drop(app);
}

#[wasm_bindgen_test]
async fn repeated_wrong_passphrases_count_down_even_after_a_restart() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    let app = start_in_russian_at("/settings/keys");
    for _ in 0..3 {
        unlock_with("касса-2025").await;
        wait_for("#unlock-error", 5).await;
    }
    let wait = wait_for("#unlock-wait", 5).await.inner_text();
    assert!(
        wait.starts_with("Слишком много неудачных попыток. Следующая попытка через"),
        "{wait}"
    );
    assert!(find("#unlock-submit").unwrap().has_attribute("disabled"));
    drop(app);

    let app = start_in_russian_at("/settings/keys");
    wait_for("#unlock-wait", 5).await;
    assert!(find("#unlock-submit").unwrap().has_attribute("disabled"));
    drop(app);
    forget_key().await;
}

#[wasm_bindgen_test]
async fn deleting_revokes_the_key_at_the_gateway_and_wipes_the_phone() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    let app = start_in_russian_at("/settings/keys/delete");
    unlock_with(PASSPHRASE).await;
    wait_for("#delete-dialog", 5).await;
    settle().await;

    tap("#delete-confirm");
    let result = wait_for("#delete-result", 5).await;
    assert_eq!(result.get_attribute("data-revoked").as_deref(), Some("yes"));
    assert_eq!(
        result.inner_text(),
        "Ключ отозван на шлюзе и удалён с телефона."
    );
    assert_eq!(
        gateway.registered().map(|(_, state)| state),
        Some(KeyState::Revoked)
    );
    assert_eq!(keystore::load().await.unwrap(), None);
    assert!(find("#header-lock").is_none() && find("#header-unlock").is_none());
    drop(app);
}

#[wasm_bindgen_test]
async fn deleting_without_the_gateway_still_wipes_the_phone_and_says_so() {
    let gateway = FakeGateway::install();
    enrolled(&gateway).await;
    let app = start_in_russian_at("/settings/keys/delete");
    unlock_with(PASSPHRASE).await;
    wait_for("#delete-dialog", 5).await;
    settle().await;
    gateway.set_fault(Fault::Down);

    tap("#delete-confirm");
    let result = wait_for("#delete-result", 5).await;
    assert_eq!(result.get_attribute("data-revoked").as_deref(), Some("no"));
    let text = result.inner_text();
    assert!(
        text.contains("Ключ удалён с телефона, но не отозван на шлюзе."),
        "{text}"
    );
    assert!(text.contains("Нет связи: запрос не отправлен."), "{text}");
    assert_eq!(
        gateway.registered().map(|(_, state)| state),
        Some(KeyState::Pending)
    );
    assert_eq!(keystore::load().await.unwrap(), None);
    drop(app);
}
