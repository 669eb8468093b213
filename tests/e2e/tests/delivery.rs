//! Guards the outbound leg end to end (issue 11): the real app, its service worker and the
//! real gateway binary, delivering to a provider emulator over real HTTP. A Kcell payment is
//! shown delivered with the provider's own number; a payment to an account the provider does
//! not know is shown refunded with the reason in Russian and the instruction to give the cash
//! back, and the dealer's balance is back where it was before it.

use tolem_e2e::{
    Action, Console, Gateway, Phone, ProviderEmulator, free_port, path_from_env, start_provider,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_is_shown_delivered_and_a_refused_one_refunded_with_the_money_back() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let provider = start_provider(&["--open", "--missing", "7019999999"]).await;
    let gateway = Gateway::start_delivering(free_port(), &dist, data.path(), &provider.url);
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified(&gateway.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;
    let b = &phone.browser;

    // Delivered: the payment's page follows the delivery and names the provider's number.
    let paid = phone.pay(Action::Execute, "7011234567", "2000").await;
    assert_eq!(paid.state, "accepted", "{paid:?}");
    wait_for_provider(&provider, "7011234567", 0).await;
    b.client
        .goto(&format!("{}history/{}", phone.app, paid.session))
        .await
        .unwrap();
    b.wait_for_element("[data-delivery='delivered']").await;
    let held = provider.provider.payments();
    assert_eq!(held.len(), 1, "{held:?}");
    let number = held[0].prv_txn.expect("committed").to_string();
    let shown = b.text_of("[data-delivery='delivered']").await;
    assert!(
        shown.contains(&format!("№ {number}")),
        "the provider's number {number} on {shown:?}"
    );

    // Refused by the provider: refunded, with the reason and what to do.
    phone.open_payment_form().await;
    let refused = phone.pay(Action::Execute, "7019999999", "1000").await;
    assert_eq!(refused.state, "accepted", "{refused:?}");
    // Once the provider has answered (and the gateway reversed it), the history, opened,
    // asks the gateway at once.
    wait_for_provider(&provider, "7019999999", 5).await;
    b.client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    let entry = format!(
        "#history-list li.payment[data-session='{}']",
        refused.session
    );
    b.wait_for_element(&format!("{entry} [data-delivery='refunded']"))
        .await;
    let text = b.text_of(&entry).await;
    assert!(
        text.contains("Провайдер отказал: абонент или лицевой счёт не найден"),
        "{text}"
    );
    let delivered = format!("#history-list li.payment[data-session='{}']", paid.session);
    b.wait_for_element(&format!("{delivered} [data-delivery='delivered']"))
        .await;

    // The refused payment's money is back: only the delivered one moved the balance.
    assert_eq!(
        console.balance_tiyn().await,
        balance_before - paid.amount_tiyn
    );

    phone.close().await;
    console.close().await;
}

/// Waits until the provider has answered a pay for `account` with `result`.
async fn wait_for_provider(provider: &ProviderEmulator, account: &str, result: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let held = provider.provider.payments();
        if held
            .iter()
            .any(|p| p.account == account && p.result == Some(result))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the provider never answered {result} for {account}: {held:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
