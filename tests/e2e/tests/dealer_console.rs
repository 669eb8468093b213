//! Guards the dealer console's division of powers with a real gateway and browser: a
//! create-and-view operator registers a point but cannot activate it; the full-access admin
//! activates it and sets its offline limits, each confirmed with a one-time code, and can only
//! ask the operator for a top-up (the balance does not move); the phone of the new point then
//! gets those limits with its key card.

use serde_json::Value;
use tolem_e2e::{Authenticator, Browser, Gateway, console_log_in, free_port, path_from_env};

#[tokio::test(flavor = "multi_thread")]
async fn operator_registers_admin_confirms_and_the_phone_sees_the_limits() {
    let dist = path_from_env("TOLEM_DIST");
    let data = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(free_port(), &dist, data.path());
    let app = gateway.url();

    // The operator (create and view) registers a point; its code and password are shown once.
    let operator = Browser::start().await;
    // The clerk has no one-time codes: e-mail and password are enough.
    console_log_in(
        &operator,
        &app,
        "clerk@tolem.demo",
        "tolem-clerk-demo",
        None,
    )
    .await;
    operator
        .client
        .goto(&format!("{app}console/points"))
        .await
        .unwrap();
    operator
        .fill("form#register-point #name", "Киоск у рынка")
        .await;
    operator
        .fill("form#register-point #address", "Алматы, ул. Жибек Жолы, 50")
        .await;
    operator
        .fill("form#register-point #working_hours", "09:00–21:00")
        .await;
    operator
        .fill("form#register-point #cashier_name", "Айгерим")
        .await;
    operator.click("form#register-point button").await;
    let code = operator.text_of("#new-point-code").await;
    let password = operator.text_of("#new-point-password").await;
    assert!(
        !code.is_empty() && password.len() >= 8,
        "code {code:?}, password {password:?}"
    );

    // The operator may look at the point but has no power to activate it.
    operator
        .client
        .goto(&format!("{app}console/points/{code}"))
        .await
        .unwrap();
    operator.wait_for_element("section#point").await;
    let can_activate = operator
        .eval(
            "return document.querySelector('section#point form.activate input[name=otp]') !== null",
        )
        .await;
    assert_eq!(
        can_activate,
        Value::Bool(false),
        "a create-and-view user must not be offered activation"
    );
    operator.close().await;

    // The admin confirms each sensitive step with a one-time code.
    let admin = Browser::start().await;
    let mut authenticator = Authenticator::demo_admin();
    // The admin has codes: the login takes one too, and each confirmation a later one.
    authenticator.start_one_step_back();
    let login_code = authenticator.next_code().await;
    console_log_in(
        &admin,
        &app,
        "admin@tolem.demo",
        "tolem-admin-demo",
        Some(&login_code),
    )
    .await;
    admin
        .client
        .goto(&format!("{app}console/points/{code}"))
        .await
        .unwrap();
    admin
        .fill(
            "section#point form.activate input[name=otp]",
            &authenticator.next_code().await,
        )
        .await;
    admin.click("section#point form.activate button").await;
    admin
        .wait_for_element("section#point[data-state=active]")
        .await;

    admin
        .fill("form#limits #offline_max_payment", "15000")
        .await;
    admin.fill("form#limits #offline_max_total", "60000").await;
    admin.fill("form#limits #offline_max_age_hours", "24").await;
    admin
        .fill(
            "form#limits input[name=otp]",
            &authenticator.next_code().await,
        )
        .await;
    admin.click("form#limits button").await;
    admin
        .wait_for(
            "the saved offline limits on the point's page",
            "return document.querySelector('#error') === null \
             && document.querySelector('form#limits #offline_max_payment')?.value === '15000.00' \
             && document.querySelector('form#limits #offline_max_total')?.value === '60000.00'",
        )
        .await;

    admin
        .client
        .goto(&format!("{app}console/money"))
        .await
        .unwrap();
    let before: i64 = admin
        .attribute("#balance", "data-tiyn")
        .await
        .unwrap()
        .parse()
        .unwrap();
    // The admin can no longer credit its own balance: only ask the operator for a top-up,
    // which moves nothing by itself (the operator's side: the operator_network test).
    assert_eq!(
        admin
            .eval("return document.querySelector('form#top-up') === null")
            .await,
        Value::Bool(true),
        "no direct top-up form"
    );
    admin.fill("#top-up-request [name=amount]", "25000").await;
    admin
        .fill("#top-up-request [name=reference]", "ПП-2026-001")
        .await;
    admin
        .eval(
            "document.querySelector('#top-up-request [name=paid_on]').value = \
             new Date().toISOString().slice(0, 10); return true",
        )
        .await;
    admin.click("#top-up-request button").await;
    admin.wait_for_text("ПП-2026-001").await;
    assert_eq!(
        admin.attribute("#balance", "data-tiyn").await,
        Some(before.to_string()),
        "a request credits nothing by itself"
    );
    admin.close().await;

    // The new point's phone gets its key card, carrying the limits the admin set.
    let phone = Browser::start().await;
    phone
        .client
        .goto(&format!("{app}settings/keys/card"))
        .await
        .unwrap();
    phone.fill("#point-code", &code).await;
    phone.fill("#point-password", &password).await;
    phone.click("#card-submit").await;
    phone.wait_for_element("#card-result").await;
    assert_eq!(
        phone
            .attribute("#card-offline", "data-max-payment-tiyn")
            .await
            .as_deref(),
        Some("1500000")
    );
    assert_eq!(
        phone
            .attribute("#card-offline", "data-max-total-tiyn")
            .await
            .as_deref(),
        Some("6000000")
    );
    assert_eq!(
        phone
            .attribute("#card-offline", "data-max-age-ms")
            .await
            .as_deref(),
        Some("86400000")
    );
    phone.close().await;
}
