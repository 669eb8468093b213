//! The public receipt check a payment document's QR code opens (issue 16, manual §1):
//! `/receipt/<transaction>/<session>` shows, without logging in, what the gateway recorded —
//! the dealer in law (name, BIN, address), the point, the cashier, the provider, the account
//! masked, the amounts, the state and the delivery — and the gateway's signature over a text of
//! those facts that verifies with the gateway's key. A wrong session and an unknown transaction
//! get the very same 404 page; every page speaks ru, kk and en.

mod support;

use reqwest::StatusCode;
use support::{
    Gateway,
    browser::{text_by_id, text_of},
    payments::kcell,
};
use tolem_protocol::keys::Signature;

/// The page at `path` in `lang`: status and HTML.
async fn open(gateway: &Gateway, path: &str, lang: &str) -> (StatusCode, String) {
    let response = gateway
        .client
        .get(format!("{}{path}?lang={lang}", gateway.url))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Undoes the HTML escaping of text content (maud escapes `&`, `<`, `>`, `"`).
fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The raw inner HTML of the element with `id` (no nested tags expected).
fn inner_of(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).unwrap();
    let rest = &html[start..];
    let inner = &rest[rest.find('>').unwrap() + 1..];
    unescape(&inner[..inner.find("</").unwrap()])
}

#[tokio::test]
async fn the_receipt_check_shows_the_signed_facts_and_refuses_guessers_alike() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    // 1 500 tenge.
    let (request, reply) = gateway.pay(&phone, kcell("7011234567", 150_000)).await;
    let transaction = reply.receipt().transaction_id;
    let session = request.session.as_str().to_owned();
    let path = format!("/receipt/{transaction}/{session}");

    let (status, html) = open(&gateway, &path, "ru").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("<html lang=\"ru\""));
    assert!(html.contains("Проверка чека"), "{html}");
    let text = text_of(&html);
    for (id, expected) in [
        ("dealer", "Демо-дилер"),
        ("dealer-bin", "080640001122"),
        ("dealer-address", "Алматы, пр. Абая, 10"),
        ("point", "Демо-касса (P1001)"),
        ("cashier", "C1"),
        ("transaction", transaction.as_str()),
        ("provider", "Kcell"),
        ("account", "701•••••67"),
        ("amount", "1\u{a0}500.00 ₸"),
        ("paid", "1\u{a0}500.00 ₸"),
        ("state", "принят"),
        ("delivery", "в очереди"),
    ] {
        assert_eq!(
            text_by_id(&html, id).as_deref(),
            Some(expected),
            "#{id} in:\n{text}"
        );
    }
    assert!(
        !text.contains("7011234567"),
        "the public page never shows the whole account"
    );

    // The signature verifies over the text shown, with the gateway's key — and that text says
    // the same as the page.
    let signed = inner_of(&html, "signed-text");
    let signature: Signature = inner_of(&html, "signature").parse().unwrap();
    assert_eq!(
        inner_of(&html, "gateway-key"),
        gateway.gateway_key.to_string()
    );
    gateway
        .gateway_key
        .verify(signed.as_bytes(), &signature)
        .expect("the receipt's facts are signed by the gateway key");
    let facts: serde_json::Value = serde_json::from_str(&signed).unwrap();
    assert_eq!(facts["kind"], "tolem.receipt");
    assert_eq!(facts["transaction"], transaction.as_str());
    assert_eq!(facts["dealer_bin"], "080640001122");
    assert_eq!(facts["account"], "701•••••67");
    assert_eq!(facts["customer_amount_tiyn"], 150_000);
    assert_eq!(facts["state"], "accepted");
    assert_eq!(facts["delivery"], "queued");
    // A changed fact no longer verifies.
    let forged = signed.replace("150000", "990000");
    assert_ne!(forged, signed);
    assert!(
        gateway
            .gateway_key
            .verify(forged.as_bytes(), &signature)
            .is_err()
    );

    // Kazakh and English.
    let (status, html) = open(&gateway, &path, "kk").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Чекті тексеру") && html.contains("қабылданды"));
    let (status, html) = open(&gateway, &path, "en").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Payment receipt check") && html.contains("accepted"));

    // A guesser: the right transaction with another session, or a transaction that does not
    // exist, gets the same page — nothing says the number exists.
    let other_session = "0000000000000000ZZZZ";
    for lang in ["ru", "kk", "en"] {
        let (wrong_status, wrong) = open(
            &gateway,
            &format!("/receipt/{transaction}/{other_session}"),
            lang,
        )
        .await;
        let (unknown_status, unknown) =
            open(&gateway, &format!("/receipt/D001-999999/{session}"), lang).await;
        assert_eq!(wrong_status, StatusCode::NOT_FOUND);
        assert_eq!(unknown_status, StatusCode::NOT_FOUND);
        assert_eq!(wrong, unknown, "the same answer for both ({lang})");
        assert!(!wrong.contains(&transaction));
        let reason = text_by_id(&wrong, "reason").unwrap();
        let expected = match lang {
            "ru" => "Такого чека нет",
            "kk" => "Мұндай чек жоқ",
            _ => "No such receipt",
        };
        assert!(reason.starts_with(expected), "{lang}: {reason}");
    }
}
