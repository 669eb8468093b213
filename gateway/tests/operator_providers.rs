//! Guards the provider catalogue as the operator keeps it, over real HTTP: a provider the
//! operator adds reaches a phone on its next catalogue refresh (the old `ETag` no longer
//! matches) and takes payments; edited limits show on the phone; a rate outside 0–100 %,
//! prefixes overlapping Kcell's and a taken code are each refused with their own message in the
//! user's language, keeping what was typed; a switched-off provider leaves the phones'
//! catalogue and refuses check and pay with 914 (an accepted session still answers as before)
//! until switched on, as does one whose stored account rule cannot be read until the operator
//! saves it again; a dealer's own rate is what that dealer accrues, the provider's rate what
//! the others do; a dealer's users get 403 on every route; every change is in the audit trail.

mod support;

use reqwest::{StatusCode, header};
use support::{
    Gateway,
    browser::{ADMIN, CLERK, OPERATOR, OPERATOR_TOTP_SECRET, text_of},
    payments::{DEALER, kcell},
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{Message, Payment, PaymentState},
    providers::{Catalogue, ProviderInfo},
};

const PROVIDERS: &str = "/console/operator/providers";

/// The catalogue as a phone gets it: status, tag and the catalogue when it changed.
async fn catalogue(
    gateway: &Gateway,
    if_none_match: Option<&str>,
) -> (StatusCode, String, Option<Catalogue>) {
    let mut request = gateway
        .client
        .get(format!("{}/api/v1/providers", gateway.url));
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response.headers()[header::ETAG]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    let catalogue = (status == StatusCode::OK).then(|| Catalogue::decode(&body).unwrap());
    (status, etag, catalogue)
}

fn offered<'a>(catalogue: &'a Catalogue, code: &str) -> Option<&'a ProviderInfo> {
    catalogue.providers.iter().find(|p| p.code == code)
}

/// The operator, logged in, with the CSRF token of the providers page.
async fn operator(gateway: &Gateway) -> (String, String) {
    let cookie = gateway.console_session(OPERATOR).await;
    let (_, csrf) = gateway.console_page(PROVIDERS, &cookie).await;
    (cookie, csrf)
}

async fn otp(gateway: &Gateway) -> String {
    gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await
}

/// The add form of a new mobile provider "izi" (prefix 709), with `changes` applied.
fn izi(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut form = vec![
        ("code", "izi"),
        ("name", "Izi Mobile"),
        ("short_label", "Izi"),
        ("category", "mobile"),
        ("account_kind", "phone"),
        ("digits", "10"),
        ("prefixes", "709"),
        ("account_format", "7XX XXX XX XX"),
        ("min", "200"),
        ("max", "50000"),
        ("rate", "1.5"),
    ];
    for (name, value) in changes {
        match form.iter_mut().find(|(field, _)| field == name) {
            Some(field) => field.1 = value,
            None => form.push((name, value)),
        }
    }
    form
}

/// Posts `form` with the CSRF token and a fresh one-time code.
async fn confirmed(
    gateway: &Gateway,
    path: &str,
    cookie: &str,
    csrf: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let code = otp(gateway).await;
    let mut fields = form.to_vec();
    fields.push(("csrf", csrf));
    fields.push(("otp", &code));
    gateway.console_post(path, cookie, &fields).await
}

/// The audit trail's actions on `subject`, oldest first.
async fn audited(gateway: &Gateway, subject: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq")
        .bind(subject)
        .fetch_all(&gateway.pool)
        .await
        .unwrap()
}

fn payment(provider: &str, account: &str, amount_tiyn: i64) -> Payment {
    Payment {
        provider: provider.into(),
        ..kcell(account, amount_tiyn)
    }
}

/// What the page says in its refusal (`p#form-error`).
fn form_error(html: &str) -> String {
    support::browser::text_by_id(html, "form-error").expect("a refusal on the form")
}

#[tokio::test]
async fn an_added_provider_reaches_the_phone_and_takes_payments() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let (_, old_tag, before) = catalogue(&gateway, None).await;
    assert!(offered(&before.unwrap(), "izi").is_none());

    let (cookie, csrf) = operator(&gateway).await;
    let response = confirmed(&gateway, PROVIDERS, &cookie, &csrf, &izi(&[])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The phone revalidates with its old tag and gets the new catalogue.
    let (status, new_tag, after) = catalogue(&gateway, Some(&old_tag)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(new_tag, old_tag);
    let after = after.unwrap();
    let izi = offered(&after, "izi").expect("the new provider is offered");
    assert_eq!(izi.name, "Izi Mobile");
    assert_eq!(izi.account_rule, "digits=10;prefixes=709");
    assert_eq!((izi.min_tiyn, izi.max_tiyn), (20_000, 5_000_000));
    assert!(izi.check_account("+7 709 123 45 67").is_ok());
    assert!(izi.check_account("+7 701 123 45 67").is_err());

    let (_, reply) = gateway
        .pay(&phone, payment("izi", "7091234567", 100_000))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    assert_eq!(reply.receipt().state, PaymentState::Accepted);
    // Commission at the rate typed: 1.5 % of 1 000 tenge.
    let commission: i64 = sqlx::query_scalar(
        "SELECT commission_tiyn FROM commission_accruals WHERE provider = 'izi'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(commission, 1_500);

    let (html, _) = gateway.console_page(PROVIDERS, &cookie).await;
    assert!(html.contains("data-provider=\"izi\" data-state=\"active\""));
    assert!(html.contains("7XX XXX XX XX"));
    assert_eq!(audited(&gateway, "provider:izi").await, ["provider.added"]);
}

#[tokio::test]
async fn edited_limits_show_on_the_phone() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let (_, old_tag, _) = catalogue(&gateway, None).await;
    let (cookie, _) = operator(&gateway).await;
    let path = format!("{PROVIDERS}/kcell");
    let (html, csrf) = gateway.console_page(&path, &cookie).await;
    // The form starts with what is stored.
    assert!(html.contains("id=\"edit-provider\""));
    assert!(html.contains("value=\"701, 702, 775, 778\""), "{html}");
    assert!(html.contains("value=\"100000.00\""));

    // Kcell keeps the prefixes it shares with activ (its own second brand).
    let form = [
        ("name", "Kcell"),
        ("short_label", "Kcell"),
        ("category", "mobile"),
        ("account_kind", "phone"),
        ("digits", "10"),
        ("prefixes", "701, 702, 775, 778"),
        ("account_format", "7XX XXX XX XX"),
        ("min", "50"),
        ("max", "150 000"),
        ("rate", "1"),
    ];
    let response = confirmed(&gateway, &path, &cookie, &csrf, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (status, _, after) = catalogue(&gateway, Some(&old_tag)).await;
    assert_eq!(status, StatusCode::OK);
    let kcell_now = offered(after.as_ref().unwrap(), "kcell").unwrap().clone();
    assert_eq!(
        (kcell_now.min_tiyn, kcell_now.max_tiyn),
        (5_000, 15_000_000)
    );
    assert_eq!(
        gateway.check(&phone, kcell("7011234567", 12_000_000)).await,
        ResultCode::Ok
    );
    assert_eq!(
        gateway.check(&phone, kcell("7011234567", 6_000)).await,
        ResultCode::Ok
    );
    assert_eq!(
        audited(&gateway, "provider:kcell").await,
        ["provider.edited"]
    );
}

#[tokio::test]
async fn rates_outside_0_to_100_percent_are_refused_keeping_what_was_typed() {
    let gateway = support::start().await;
    let (cookie, csrf) = operator(&gateway).await;
    for rate in ["101", "-1"] {
        let response =
            confirmed(&gateway, PROVIDERS, &cookie, &csrf, &izi(&[("rate", rate)])).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rate}"
        );
        let html = response.text().await.unwrap();
        assert!(
            form_error(&html).contains("от 0 до 100 %"),
            "{rate}: {}",
            form_error(&html)
        );
        assert!(html.contains("id=\"add-provider\""));
        for kept in [
            "value=\"izi\"",
            "value=\"Izi Mobile\"",
            "value=\"709\"",
            "value=\"50000\"",
        ] {
            assert!(html.contains(kept), "{rate}: {kept} is kept");
        }
        assert!(html.contains(&format!("value=\"{rate}\"")));
    }
    // In English when the user chose English.
    let english = format!("{cookie}; tolem_lang=en");
    let response = confirmed(
        &gateway,
        PROVIDERS,
        &english,
        &csrf,
        &izi(&[("rate", "101")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        form_error(&html).contains("from 0 to 100 %"),
        "{}",
        form_error(&html)
    );

    // A wrong one-time code is a refusal on the form too.
    let mut fields = izi(&[]);
    fields.push(("csrf", &csrf));
    fields.push(("otp", "000000"));
    let response = gateway.console_post(PROVIDERS, &english, &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        form_error(&html).contains("one-time code"),
        "{}",
        form_error(&html)
    );
    assert!(html.contains("value=\"Izi Mobile\""));

    let (_, _, now) = catalogue(&gateway, None).await;
    assert!(offered(&now.unwrap(), "izi").is_none());
    assert!(audited(&gateway, "provider:izi").await.is_empty());
}

#[tokio::test]
async fn prefixes_overlapping_kcell_are_refused_naming_kcell() {
    let gateway = support::start().await;
    let (cookie, csrf) = operator(&gateway).await;
    let response = confirmed(
        &gateway,
        PROVIDERS,
        &cookie,
        &csrf,
        &izi(&[("prefixes", "709, 7015")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    let error = form_error(&html);
    assert!(error.contains("Kcell (kcell)"), "{error}");
    assert!(error.contains("номера"), "{error}");
    assert!(html.contains("value=\"709, 7015\""));
    // The same numbers as an account number, or a Kcell-free prefix, are fine.
    let response = confirmed(&gateway, PROVIDERS, &cookie, &csrf, &izi(&[])).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Editing the new provider into Kcell's numbers is refused the same way.
    let path = format!("{PROVIDERS}/izi");
    let response = confirmed(&gateway, &path, &cookie, &csrf, &izi(&[("prefixes", "70")])).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(form_error(&html).contains("Kcell (kcell)"));
    assert!(html.contains("value=\"70\""));
    assert_eq!(audited(&gateway, "provider:izi").await, ["provider.added"]);
}

#[tokio::test]
async fn a_taken_code_is_refused() {
    let gateway = support::start().await;
    let (cookie, csrf) = operator(&gateway).await;
    let response = confirmed(
        &gateway,
        PROVIDERS,
        &cookie,
        &csrf,
        &izi(&[("code", "beeline"), ("prefixes", "709")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        form_error(&html).contains("уже есть"),
        "{}",
        form_error(&html)
    );
    assert!(html.contains("value=\"beeline\""));
    let name: String = sqlx::query_scalar("SELECT name FROM providers WHERE code = 'beeline'")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(name, "Beeline");
    assert!(audited(&gateway, "provider:beeline").await.is_empty());
    // A code that is not lowercase Latin has its own message.
    let response = confirmed(
        &gateway,
        PROVIDERS,
        &cookie,
        &csrf,
        &izi(&[("code", "Izi Mobile")]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        form_error(&html).contains("латинских"),
        "{}",
        form_error(&html)
    );
}

#[tokio::test]
async fn a_switched_off_provider_refuses_payments_with_914_until_switched_on() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let altel = || payment("altel", "7001234567", 100_000);
    let (accepted, reply) = gateway.pay(&phone, altel()).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, old_tag, _) = catalogue(&gateway, None).await;

    let (cookie, csrf) = operator(&gateway).await;
    let path = format!("{PROVIDERS}/altel");
    let response = confirmed(&gateway, &format!("{path}/disable"), &cookie, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (status, _, now) = catalogue(&gateway, Some(&old_tag)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        offered(&now.unwrap(), "altel").is_none(),
        "the phone no longer offers it"
    );
    assert_eq!(
        gateway.check(&phone, altel()).await,
        ResultCode::ProviderDisabled
    );
    let (_, reply) = gateway.pay(&phone, altel()).await;
    assert_eq!(reply.code(), ResultCode::ProviderDisabled);
    assert_eq!(reply.receipt().state, PaymentState::Rejected);
    assert!(ResultCode::ProviderDisabled.number() == 914);
    // The session accepted before still answers as it did.
    let again = gateway.send(&phone, &accepted).await;
    assert_eq!(again.code(), ResultCode::Ok);
    assert_eq!(again.receipt().state, PaymentState::Accepted);

    let (html, _) = gateway.console_page(&path, &cookie).await;
    assert!(html.contains("data-state=\"disabled\""));
    assert!(html.contains("class=\"enable-provider\""));
    // The payment accepted before is still on its way (no connection here): the page says how
    // many, and that they are still delivered.
    assert!(
        html.contains("id=\"waiting-deliveries\" data-count=\"1\""),
        "{html}"
    );
    assert!(
        text_of(&html).contains("по-прежнему доставляются"),
        "{html}"
    );

    let response = confirmed(&gateway, &format!("{path}/enable"), &cookie, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, _, now) = catalogue(&gateway, None).await;
    assert!(offered(&now.unwrap(), "altel").is_some());
    // (Another number: the same number and amount again would be a duplicate, 32.)
    let another = payment("altel", "7007654321", 100_000);
    assert_eq!(gateway.check(&phone, another).await, ResultCode::Ok);
    assert_eq!(
        audited(&gateway, "provider:altel").await,
        ["provider.disabled", "provider.enabled"]
    );
}

#[tokio::test]
async fn a_provider_whose_stored_rule_cannot_be_read_takes_no_payments_until_saved_again() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    // A rule typed into the database by hand: read as no rule at all, it would let any digits
    // through — a payment to a number the provider does not have.
    sqlx::query("UPDATE providers SET account_rule = 'digits=ten' WHERE code = 'altel'")
        .execute(&gateway.pool)
        .await
        .unwrap();
    let (_, _, now) = catalogue(&gateway, None).await;
    let now = now.unwrap();
    assert!(
        offered(&now, "altel").is_none(),
        "the phone is not offered it"
    );
    assert!(offered(&now, "kcell").is_some(), "the others stay");
    let altel = || payment("altel", "12", 100_000);
    assert_eq!(
        gateway.check(&phone, altel()).await,
        ResultCode::ProviderDisabled
    );
    let (_, reply) = gateway.pay(&phone, altel()).await;
    assert_eq!(reply.code(), ResultCode::ProviderDisabled);
    assert_eq!(reply.receipt().state, PaymentState::Rejected);

    // The operator saves the provider's rule again from its page; it takes payments again.
    let (cookie, csrf) = operator(&gateway).await;
    let path = format!("{PROVIDERS}/altel");
    let (html, _) = gateway.console_page(PROVIDERS, &cookie).await;
    assert!(html.contains("digits=ten"), "the list shows what is stored");
    let form = [
        ("name", "Altel"),
        ("short_label", "Altel"),
        ("category", "mobile"),
        ("account_kind", "phone"),
        ("digits", "10"),
        ("prefixes", "700, 708"),
        ("account_format", "7XX XXX XX XX"),
        ("min", "1"),
        ("max", "150 000"),
        ("rate", "1"),
    ];
    let response = confirmed(&gateway, &path, &cookie, &csrf, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gateway.check(&phone, altel()).await,
        ResultCode::BadAccount,
        "its rule applies again"
    );
    let (_, reply) = gateway
        .pay(&phone, payment("altel", "7001234567", 100_000))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);
}

/// The rate and commission accrued on the dealer's payment to `provider`.
async fn accrued(gateway: &Gateway, dealer: &str, provider: &str) -> (i64, i64) {
    let row: (i64, i64) = sqlx::query_as(
        "SELECT rate_bp, commission_tiyn FROM commission_accruals \
         WHERE dealer_code = $1 AND provider = $2",
    )
    .bind(dealer)
    .bind(provider)
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    row
}

#[tokio::test]
async fn a_dealers_own_rate_is_what_that_dealer_accrues() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let other = gateway.second_dealer_phone(2).await;
    let (cookie, csrf) = operator(&gateway).await;
    let rates = format!("{PROVIDERS}/kcell/rates");

    // Refused: a rate above 100 % and a dealer nobody knows, each with its message.
    let response = confirmed(
        &gateway,
        &rates,
        &cookie,
        &csrf,
        &[("dealer", DEALER), ("rate", "101")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(form_error(&html).contains("от 0 до 100 %"));
    assert!(html.contains("value=\"101\""));
    let response = confirmed(
        &gateway,
        &rates,
        &cookie,
        &csrf,
        &[("dealer", "D999"), ("rate", "2")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(form_error(&html).contains("Дилера с таким кодом нет"));
    assert!(html.contains("value=\"D999\""));

    let response = confirmed(
        &gateway,
        &rates,
        &cookie,
        &csrf,
        &[("dealer", DEALER), ("rate", "2")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (html, _) = gateway
        .console_page(&format!("{PROVIDERS}/kcell"), &cookie)
        .await;
    assert!(html.contains("data-dealer=\"D001\""));
    // The change is in D001's own trail, where its console shows it.
    let trail: Option<String> =
        sqlx::query_scalar("SELECT dealer_code FROM audit_log WHERE action = 'dealer.rate'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(trail.as_deref(), Some(DEALER));

    let (_, reply) = gateway.pay(&phone, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok);
    let (_, reply) = gateway.pay(&other, kcell("7011234567", 100_000)).await;
    assert_eq!(reply.code(), ResultCode::Ok, "{}", reply.text());
    // 2 % of 1 000 tenge for D001, Kcell's own 1 % for D002.
    assert_eq!(accrued(&gateway, DEALER, "kcell").await, (200, 2_000));
    assert_eq!(accrued(&gateway, "D002", "kcell").await, (100, 1_000));

    // An empty rate clears it: the provider's rate applies again.
    let response = confirmed(
        &gateway,
        &rates,
        &cookie,
        &csrf,
        &[("dealer", DEALER), ("rate", "")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (html, _) = gateway
        .console_page(&format!("{PROVIDERS}/kcell"), &cookie)
        .await;
    assert!(html.contains("id=\"no-dealer-rates\""));
    let (_, reply) = gateway
        .pay(&phone, payment("activ", "7011234567", 100_000))
        .await;
    assert_eq!(reply.code(), ResultCode::Ok);
    assert_eq!(accrued(&gateway, DEALER, "activ").await, (100, 1_000));
    assert_eq!(
        audited(&gateway, "provider:kcell").await,
        ["dealer.rate", "dealer.rate"]
    );
}

#[tokio::test]
async fn a_dealers_users_get_403_on_every_providers_route() {
    let gateway = support::start().await;
    for user in [ADMIN, CLERK] {
        let cookie = gateway.console_session(user).await;
        let (_, csrf) = gateway.keys_page(&cookie).await;
        for path in [PROVIDERS.to_owned(), format!("{PROVIDERS}/kcell")] {
            let response = gateway.console_get(&path, &cookie).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} GET {path}",
                user.0
            );
        }
        let mut form = izi(&[]);
        form.push(("csrf", &csrf));
        form.push(("dealer", DEALER));
        for path in [
            PROVIDERS.to_owned(),
            format!("{PROVIDERS}/kcell"),
            format!("{PROVIDERS}/kcell/disable"),
            format!("{PROVIDERS}/kcell/enable"),
            format!("{PROVIDERS}/kcell/rates"),
        ] {
            let response = gateway.console_post(&path, &cookie, &form).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} POST {path}",
                user.0
            );
        }
    }
    let changed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'provider.%' OR action = 'dealer.rate'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(changed, 0);
}
