//! Guards taking a payment online with every real part (issue 4): a wrong number is explained
//! before anything is sent; a Kcell payment is accepted with the gateway's transaction id, shown
//! on a receipt and in the history; the dealer's balance moves by exactly the provider amount;
//! the same payment again within the hour is rejected as a duplicate and shown so. The phone is
//! Chromium, then Firefox (the console, a desktop page, is Chromium in both).

use tolem_e2e::{Action, Console, Engine, Gateway, Phone, free_port, path_from_env};

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_is_accepted_once_and_its_twin_is_a_duplicate_in_chromium() {
    a_payment_is_accepted_once_and_its_twin_is_a_duplicate(Engine::Chromium).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_is_accepted_once_and_its_twin_is_a_duplicate_in_firefox() {
    a_payment_is_accepted_once_and_its_twin_is_a_duplicate(Engine::Firefox).await;
}

async fn a_payment_is_accepted_once_and_its_twin_is_a_duplicate(engine: Engine) {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let mut console = Console::log_in(&gateway.url(), false).await;
    let phone = Phone::certified_in(engine, &gateway.url(), &mut console).await;
    let balance_before = console.balance_tiyn().await;
    let b = &phone.browser;

    // A Beeline prefix on the Kcell form: refused next to the field, in Russian, before sending.
    b.fill("#pay-account", "7051234567").await;
    b.fill("#pay-amount", "2000").await;
    b.click("#pay-execute").await;
    let error = b.text_of("#pay-account-error").await;
    assert!(
        error.contains("701"),
        "the error should name Kcell's prefixes: {error}"
    );
    assert!(
        console.payments().await.is_empty(),
        "nothing may reach the gateway"
    );

    // The real thing.
    let paid = phone.pay(Action::Execute, "7011234567", "2000").await;
    assert_eq!(paid.state, "accepted", "{paid:?}");
    let held = console.payments().await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].session.as_str(), held[0].status.as_str()),
        (paid.session.as_str(), "accepted")
    );
    assert_eq!(
        console.balance_tiyn().await,
        balance_before - paid.amount_tiyn
    );

    // Its receipt carries the gateway's transaction id; the history lists it as accepted.
    b.client
        .goto(&format!("{}history/{}/receipt", phone.app, paid.session))
        .await
        .unwrap();
    let transaction = b
        .attribute("#receipt", "data-transaction")
        .await
        .unwrap_or_default();
    assert!(
        transaction.starts_with("D001-"),
        "transaction id {transaction:?}"
    );
    b.client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    let entry = format!("#history-list li.payment[data-session='{}']", paid.session);
    assert_eq!(
        b.attribute(&entry, "data-state").await.as_deref(),
        Some("accepted")
    );

    // The same number and amount again within the hour: rejected as a duplicate, money unmoved.
    phone.open_payment_form().await;
    let twin = phone.pay(Action::Execute, "7011234567", "2000").await;
    assert_eq!(twin.state, "duplicate", "{twin:?}");
    assert_eq!(
        console.balance_tiyn().await,
        balance_before - paid.amount_tiyn
    );
    b.client
        .goto(&format!("{}history", phone.app))
        .await
        .unwrap();
    let entry = format!("#history-list li.payment[data-session='{}']", twin.session);
    assert_eq!(
        b.attribute(&entry, "data-code").await.as_deref(),
        Some("32")
    );
    assert!(
        b.text_of(&format!("{entry} .state-label"))
            .await
            .to_lowercase()
            .contains("дубл")
    );

    phone.close().await;
    console.close().await;
}
