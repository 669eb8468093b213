//! Guards the payment document end to end (manual §1, issue 16): a cash payment accepted by the
//! real gateway has a receipt naming the dealer in law (the BIN and legal address came with the
//! key card), whose QR code leads to the gateway's public receipt check of the same transaction
//! — opened in the browser with no login — and which prints on ONE 58 mm receipt strip: Chromium's
//! own PDF printer makes a single page, and in print media nothing is wider than the strip and
//! nothing but the document shows.

use base64::Engine;
use serde_json::json;
use tolem_e2e::{Action, Console, Gateway, Phone, free_port, path_from_env};

/// A 58 mm strip in inches, as DevTools takes paper sizes.
const STRIP_INCHES: f64 = 58.0 / 25.4;

/// The page objects of a PDF: `/Type /Page`, not the `/Type /Pages` tree.
fn pages_in(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let mut count = 0;
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("/Type") {
        rest = rest[at + "/Type".len()..].trim_start();
        if let Some(after) = rest.strip_prefix("/Page")
            && !after.starts_with('s')
        {
            count += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receipt_checks_out_on_the_gateway_and_prints_on_one_58_mm_strip() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&gateway.url(), &mut console).await;
    let b = &phone.browser;

    let paid = phone.pay(Action::Execute, "7011234567", "2000").await;
    assert_eq!(paid.state, "accepted", "{paid:?}");
    b.client
        .goto(&format!("{}history/{}/receipt", phone.app, paid.session))
        .await
        .unwrap();
    b.wait_for_element("#receipt-qr svg").await;
    let transaction = b
        .attribute("#receipt", "data-transaction")
        .await
        .unwrap_or_default();
    assert!(transaction.starts_with("D001-"), "{transaction:?}");
    assert_eq!(b.text_of("#receipt-dealer-bin").await, "БИН 080640001122");
    assert_eq!(
        b.text_of("#receipt-dealer-address").await,
        "Алматы, пр. Абая, 10"
    );
    let check = b
        .attribute("#receipt-qr", "data-text")
        .await
        .expect("the QR code's address");
    assert_eq!(
        check,
        format!("{}receipt/{transaction}/{}", phone.app, paid.session)
    );

    // Printed on a 58 mm strip, as long as it needs: one page.
    let printed = b
        .devtools(
            "Page.printToPDF",
            json!({
                "paperWidth": STRIP_INCHES,
                "paperHeight": 11.0,
                "marginTop": 0.0, "marginBottom": 0.0, "marginLeft": 0.0, "marginRight": 0.0,
                "printBackground": false,
            }),
        )
        .await;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(printed["data"].as_str().expect("the PDF"))
        .unwrap();
    assert_eq!(pages_in(&pdf), 1, "the receipt must print on one page");

    // In print media at the strip's width: only the document, nothing wider than the strip.
    let strip_px = (STRIP_INCHES * 96.0).floor() as i64;
    b.devtools("Emulation.setEmulatedMedia", json!({ "media": "print" }))
        .await;
    b.devtools(
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": strip_px, "height": 1200, "deviceScaleFactor": 1, "mobile": false }),
    )
    .await;
    b.wait_for(
        "the strip's width",
        &format!("return window.innerWidth === {strip_px}"),
    )
    .await;
    let layout = b
        .eval(
            "const w = window.innerWidth;
             const shown = s => { const e = document.querySelector(s);
                 return !!e && e.getClientRects().length > 0; };
             return {
               overflow: document.documentElement.scrollWidth - w,
               wide: [...document.querySelectorAll('#receipt *')]
                   .filter(e => e.getBoundingClientRect().right > w + 0.5)
                   .map(e => e.tagName + '#' + e.id).slice(0, 5),
               receipt: shown('#receipt'), qr: shown('#receipt-qr svg'),
               qr_width: document.querySelector('#receipt-qr').getBoundingClientRect().width,
               bar: shown('.top-bar'), buttons: shown('#receipt-print'), back: shown('nav.back'),
             };",
        )
        .await;
    assert_eq!(layout["overflow"], 0, "{layout}");
    assert_eq!(layout["wide"], json!([]), "{layout}");
    assert_eq!(layout["receipt"], true, "{layout}");
    assert_eq!(layout["qr"], true, "{layout}");
    assert!(
        layout["qr_width"].as_f64().unwrap() <= strip_px as f64,
        "{layout}"
    );
    for hidden in ["bar", "buttons", "back"] {
        assert_eq!(layout[hidden], false, "{hidden} must not print: {layout}");
    }
    b.devtools("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    b.devtools("Emulation.setEmulatedMedia", json!({ "media": "" }))
        .await;

    // The QR code's address, opened as the customer's phone would: the gateway's public check of
    // the same transaction, with no login.
    b.client.goto(&check).await.unwrap();
    b.wait_for_element("#receipt-check[data-found='true']")
        .await;
    assert_eq!(
        b.attribute("#receipt-check", "data-transaction")
            .await
            .as_deref(),
        Some(transaction.as_str())
    );
    assert_eq!(b.text_of("#transaction").await, transaction);
    assert_eq!(b.text_of("#dealer-bin").await, "080640001122");
    assert_eq!(b.text_of("#account").await, "701•••••67");
    assert!(!b.text_of("#signature").await.is_empty());

    phone.close().await;
    console.close().await;
}
