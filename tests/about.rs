//! Guards *About and contacts* in a real browser (manual §17, §19; issue 16): without a key card
//! it says the dealer's contact comes with the card; with one it names the dealer, point and
//! cashier and the dealer's support contact from the card; it always shows the app's version and
//! the gateway's address and state — in Russian, Kazakh and English.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::*;
use tolem::storage::keystore;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn about_names_the_version_the_dealers_support_and_the_gateway() {
    forget_key().await;
    let app = start_in_russian_at("/settings");
    wait_for("#settings-about-link", 5).await;
    tap("#settings-about-link");
    wait_for("#about-no-card", 5).await;
    assert!(text_of("#about-version").contains(env!("CARGO_PKG_VERSION")));
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    assert_eq!(text_of("#about-gateway-address"), origin);
    assert!(attribute_of("#about-gateway-state", "data-state").is_some());
    drop(app);

    let mut card = sample_card();
    card.dealer_contact = Some("+7 727 000 00 00, support@dealer.kz".into());
    keystore::create(&card, "поддержка-1").await.unwrap();
    for (language, contact_label) in [
        ("ru", "Связь с поддержкой"),
        ("kk", "Қолдаумен байланыс"),
        ("en", "Support contact"),
    ] {
        let app = start_at("/settings/about");
        choose_language(language).await;
        wait_for("#about-contact", 5).await;
        wait_for_page_text(contact_label, 5).await;
        assert_eq!(
            text_of("#about-contact"),
            "+7 727 000 00 00, support@dealer.kz"
        );
        assert_eq!(text_of("#about-dealer"), "Демо-дилер (D001)");
        assert!(text_of("#about-point").contains(&card.point));
        drop(app);
    }
    forget_key().await;
    forget_language();
}
