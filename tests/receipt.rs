//! Guards the payment document in a real browser (manual §1, issue 16): the receipt of a decided
//! payment names the dealer in law (legal name, BIN, legal address from the key card), the point
//! and the cashier, and carries a QR code of the gateway's public receipt check for exactly this
//! transaction and session; a payment the gateway has not decided has no check to point to; a
//! key card from before the dealer's details still names the dealer; *Print* and *Share as
//! image* are offered in Russian, Kazakh and English.
#![cfg(target_arch = "wasm32")]

mod support;

use support::card::sample_card;
use support::catalogue::keep_sample_catalogue;
use support::payments::{forget_payments, signed, store_in_state};
use support::*;
use tolem::storage::keystore;
use tolem_outbox::record::State;
use tolem_protocol::messages::DealerDetails;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const BEELINE: (&str, &str) = ("beeline", "Beeline");
const PASSPHRASE: &str = "чек-печать-58";

#[wasm_bindgen_test]
async fn the_receipt_is_a_payment_document_with_the_check_qr() {
    keep_sample_catalogue().await;
    forget_payments().await;
    forget_key().await;
    let mut card = sample_card();
    card.dealer_details = Some(DealerDetails {
        name: "ТОО «Демо-дилер»".into(),
        bin: "080640001122".into(),
        legal_address: "Алматы, пр. Абая, 10".into(),
    });
    keystore::create(&card, PASSPHRASE).await.unwrap();
    let now = js_sys::Date::now() as i64;
    let accepted = store_in_state(
        signed(BEELINE, "7051234567", 500_00, now, 3),
        State::Accepted,
    )
    .await;
    let deferred = store_in_state(
        signed(BEELINE, "7051234568", 700_00, now, 4),
        State::Deferred,
    )
    .await;

    let app = start_in_russian_at(&format!("/history/{}/receipt", accepted.session()));
    wait_for("#receipt-qr svg", 5).await;
    assert_eq!(text_of("#receipt-dealer"), "ТОО «Демо-дилер»");
    assert_eq!(text_of("#receipt-dealer-bin"), "БИН 080640001122");
    assert_eq!(text_of("#receipt-dealer-address"), "Алматы, пр. Абая, 10");
    let receipt = text_of("#receipt");
    for line in [
        "Демо-касса",
        "Кассир",
        "C1",
        "Beeline",
        "+7 (705) 123-45-67",
        "500,00\u{a0}₸",
        "5,00\u{a0}₸",
        "505,00\u{a0}₸",
        "D001-000500",
        "Принят",
    ] {
        assert!(
            receipt.contains(line),
            "{line:?} missing from the receipt:\n{receipt}"
        );
    }
    // The QR code opens the gateway's check of exactly this payment: its transaction and the
    // session only this phone and the gateway know.
    let origin = web_sys::window().unwrap().location().origin().unwrap();
    let check = format!("{origin}/receipt/D001-000500/{}", accepted.session());
    assert_eq!(
        attribute_of("#receipt-qr", "data-text").as_deref(),
        Some(check.as_str())
    );
    assert_eq!(text_of("#receipt-check-url"), check);
    assert_eq!(text_of("#receipt-print"), "Печать");
    assert_eq!(text_of("#receipt-share"), "Поделиться");
    assert_eq!(text_of("#receipt-share-image"), "Поделиться картинкой");
    // The shared text is the same document, with the check's address.
    let text = tolem::pages::history::receipt_text(
        &accepted,
        "+7 (705) 123-45-67",
        tolem::pages::history::issuer(&card, "D001").as_ref(),
        Some(&check),
        tolem::i18n::Locale::ru,
    );
    for line in [
        "ТОО «Демо-дилер»",
        "БИН 080640001122",
        "Кассир: C1",
        check.as_str(),
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    drop(app);

    for (language, print, image) in [
        ("kk", "Басып шығару", "Суретпен бөлісу"),
        ("en", "Print", "Share as image"),
    ] {
        let app = start_at(&format!("/history/{}/receipt", accepted.session()));
        choose_language(language).await;
        wait_for_text("#receipt-print", print, 5).await;
        assert_eq!(text_of("#receipt-share-image"), image);
        let bin = if language == "kk" { "БСН" } else { "BIN" };
        assert_eq!(
            text_of("#receipt-dealer-bin"),
            format!("{bin} 080640001122")
        );
        drop(app);
    }
    forget_language();

    // Not decided by the gateway yet: no transaction, so no check to point to.
    let app = start_in_russian_at(&format!("/history/{}/receipt", deferred.session()));
    wait_for("#receipt[data-state=deferred]", 5).await;
    wait_for("#receipt-dealer", 5).await;
    assert!(find("#receipt-qr").is_none());
    drop(app);

    // A key card from before the dealer's details: the dealer is still named, nothing invented.
    forget_key().await;
    keystore::create(&sample_card(), PASSPHRASE).await.unwrap();
    let app = start_in_russian_at(&format!("/history/{}/receipt", accepted.session()));
    wait_for("#receipt-dealer", 5).await;
    assert_eq!(text_of("#receipt-dealer"), "Демо-дилер");
    assert!(find("#receipt-dealer-bin").is_none());
    drop(app);
    forget_key().await;
    forget_payments().await;
}
