//! Guards card payments end to end (issue 12) with two browsers: the cashier's phone (the real
//! app and its service worker) makes a bill while it is OFFLINE and shows its QR code; the
//! customer's phone (a second browser, online) opens the link at the real gateway, is refused
//! once by a card without funds — the reason shown in Russian, Kazakh and English —, pays with
//! another card on the payment service's page (the emulator of TipTop Pay, 3-D Secure
//! included); back online, the cashier's phone shows *Paid by card*, and the provider got the
//! payment exactly once.

use std::time::{Duration, Instant};

use tolem_e2e::{
    Browser, Console, Fault, Gateway, Phone, Proxy, free_port, path_from_env, start_card_service,
    start_provider,
};

const PATIENCE: Duration = Duration::from_secs(40);

/// The customer types a card on the service's page, and passes 3-D Secure if the bank asks.
async fn pay_with(customer: &Browser, card: &str) {
    customer.fill("input[name='card']", card).await;
    customer.fill("input[name='exp']", "12/30").await;
    customer.fill("input[name='cvc']", "123").await;
    customer.click("form button[type='submit']").await;
    customer
        .wait_for(
            "the bank's page, a refusal or the way back",
            "return document.querySelector('#code, #reason, #outcome') !== null",
        )
        .await;
    let on_bank_page = customer
        .eval("return document.querySelector('#code') !== null")
        .await;
    if on_bank_page == serde_json::Value::Bool(true) {
        let code = customer.text_of("#code").await;
        customer.fill("input[name='code']", &code).await;
        customer.click("button[value='confirm']").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_pays_by_card_while_the_cashiers_phone_is_offline() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let provider = start_provider(&["--open"]).await;
    let card = start_card_service().await;
    let gateway = Gateway::start_with_cards(free_port(), &dist, data.path(), &provider.url, &card);
    let proxy = Proxy::start(gateway.port).await;
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&proxy.url(), &mut console).await;
    let b = &phone.browser;

    // The cashier's phone loses its signal, and makes a bill anyway.
    proxy.set_fault(Fault::Down);
    b.fill("#pay-account", "7011234567").await;
    b.fill("#pay-amount", "2000").await;
    b.click("#pay-method-card").await;
    b.click("#pay-bill").await;
    b.click("#confirm-submit").await;
    b.wait_for_element("#bill[data-state='awaiting_card'] #bill-qr")
        .await;
    let link = b.text_of("#bill-link").await;
    let path = &link[link.find("/bill/").expect("a bill link")..];

    // The customer's own phone is online: it reaches the gateway.
    let customer = Browser::start().await;
    customer
        .client
        .goto(&format!("{}{}", gateway.url().trim_end_matches('/'), path))
        .await
        .unwrap();
    customer
        .wait_for_element("#bill[data-state='awaiting'] #pay")
        .await;
    let to_pay = customer.text_of("#to-pay").await;
    assert!(
        to_pay.starts_with("2"),
        "the customer pays 2 000 ₸ and the commission: {to_pay}"
    );
    customer.fill("#email", "buyer@example.kz").await;
    customer.click("#pay").await;

    // A card without funds: refused, and the customer reads why in their language.
    pay_with(&customer, "4012 8888 8888 1881").await;
    customer.click("#fail").await;
    customer
        .wait_for_element("#outcome[data-state='declined']")
        .await;
    let outcome_url = customer.client.current_url().await.unwrap();
    for (lang, words) in [
        ("ru", "недостаточно средств"),
        ("kk", "қаражат жеткіліксіз"),
        ("en", "insufficient funds"),
    ] {
        let mut url = outcome_url.clone();
        url.set_query(Some(&format!("lang={lang}")));
        customer.client.goto(url.as_str()).await.unwrap();
        customer
            .wait_for_element("#outcome[data-state='declined']")
            .await;
        let text = customer.text_of("#message").await;
        assert!(text.contains(words), "{lang}: {text}");
    }

    // Another card, with 3-D Secure at the bank: paid.
    customer.click("#retry").await;
    pay_with(&customer, "4242 4242 4242 4242").await;
    customer
        .wait_for_element("#outcome[data-state='paid']")
        .await;

    // Back online, the cashier's phone learns it by itself.
    proxy.set_fault(Fault::None);
    b.network_returns().await;
    let result = "#pay-result[data-state='accepted'][data-method='card']";
    b.wait_for_element(result).await;
    let shown = b.text_of(result).await;
    assert!(shown.contains("Оплачено картой"), "{shown}");

    // The gateway delivered it once.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let held = provider.provider.payments();
        if held.iter().any(|p| p.result == Some(0)) {
            assert_eq!(held.len(), 1, "delivered once: {held:?}");
            assert_eq!(held[0].account, "7011234567");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the payment never reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    customer.close().await;
    phone.close().await;
    console.close().await;
}
