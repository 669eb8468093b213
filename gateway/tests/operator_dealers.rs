//! Guards the operator's dealers over real HTTP, as the operator's browser and a real phone use
//! them: registering a dealer (a bad IBAN and a BIN already registered are refused with their
//! own message in the user's language, keeping what was typed), editing it, limits that make a
//! phone's payment get 83 and 84, blocking that makes the demo phone get 52 at once and
//! unblocking, the dealer's first full-access user invited with a one-time password shown once
//! (and able to log in with it); every one of these in the audit trail; and a dealer's users
//! (full access or not) refused with 403 on every operator page and form.

mod support;

use reqwest::{StatusCode, header};
use support::{
    Gateway,
    browser::{ADMIN, CLERK, OPERATOR, text_by_id},
    payments::{DEALER, kcell},
};
use tolem_protocol::codes::ResultCode;

const LIST: &str = "/console/operator/dealers";
/// A BIN with a right control digit (the first sum mod 11 is 10: the second weights give 3).
const BIN: &str = "123456789013";
const OTHER_BIN: &str = "080640000213";
const IBAN: &str = "KZ86125KZT5004100100";

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn audit_count(gateway: &Gateway, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

fn dealer_form<'a>(
    csrf: &'a str,
    name: &'a str,
    bin: &'a str,
    iban: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", name),
        ("bin", bin),
        ("legal_address", "Алматы, пр. Абая 1"),
        ("bank_account", iban),
        ("contact", "Айгуль, +7 701 000 00 00"),
    ]
}

/// Registers a dealer as the operator; returns its code.
async fn register(gateway: &Gateway, operator: &str, name: &str, bin: &str) -> String {
    let (_, csrf) = gateway.console_page(LIST, operator).await;
    let response = gateway
        .console_post(LIST, operator, &dealer_form(&csrf, name, bin, IBAN))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response).rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_operator_registers_and_edits_a_dealer_and_bad_input_keeps_what_was_typed() {
    let gateway = support::start().await;
    let operator = gateway.console_session(OPERATOR).await;
    let (html, csrf) = gateway.console_page(LIST, &operator).await;
    assert!(html.contains("id=\"register-dealer\""), "{html}");
    assert!(html.contains("data-dealer=\"D001\""), "{html}");

    // A bad IBAN: refused, in the user's language, with everything typed still there.
    let response = gateway
        .console_post(
            &format!("{LIST}?lang=en"),
            &operator,
            &dealer_form(&csrf, "ТОО «Береке»", BIN, "KZ00125KZT5004100100"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("The account is a Kazakh IBAN"), "{html}");
    for typed in ["ТОО «Береке»", BIN, "KZ00125KZT5004100100", "Айгуль"] {
        assert!(html.contains(typed), "{typed} kept: {html}");
    }
    // A bad BIN (wrong control digit), in Kazakh.
    let response = gateway
        .console_post(
            &format!("{LIST}?lang=kk"),
            &operator,
            &dealer_form(&csrf, "ТОО «Береке»", "123456789012", IBAN),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("БСН/ЖСН — бақылау цифры дұрыс 12 цифр."),
        "{html}"
    );
    assert!(html.contains("123456789012"), "{html}");

    // Registered: the demo D001 is not taken twice.
    let response = gateway
        .console_post(
            &format!("{LIST}?lang=ru"),
            &operator,
            &dealer_form(&csrf, "ТОО «Береке»", BIN, "kz86 125K ZT50 0410 0100"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("{LIST}/D002"));
    let (html, _) = gateway
        .console_page(&format!("{LIST}/D002"), &operator)
        .await;
    assert!(html.contains("id=\"edit-dealer\""), "{html}");
    assert!(
        html.contains(IBAN),
        "the IBAN as the bank writes it: {html}"
    );

    // The same BIN again: its own error, in Russian, what was typed kept.
    let response = gateway
        .console_post(LIST, &operator, &dealer_form(&csrf, "ИП Дубль", BIN, IBAN))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Дилер с таким БИН/ИИН уже зарегистрирован."),
        "{html}"
    );
    assert!(html.contains("ИП Дубль"), "{html}");
    let dealers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dealers")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(dealers, 2);

    // Edited; a bad BIN on the edit form keeps the typed values and changes nothing.
    let response = gateway
        .console_post(
            &format!("{LIST}/D002"),
            &operator,
            &dealer_form(&csrf, "ТОО «Береке Плюс»", BIN, IBAN),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = gateway
        .console_post(
            &format!("{LIST}/D002"),
            &operator,
            &dealer_form(&csrf, "ТОО «Береке 2»", "12345", IBAN),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"ТОО «Береке 2»\""), "{html}");
    assert!(html.contains("value=\"12345\""), "{html}");
    let (html, _) = gateway.console_page(LIST, &operator).await;
    assert!(html.contains("ТОО «Береке Плюс»"), "{html}");
    assert!(!html.contains("ТОО «Береке 2»"), "{html}");

    // One more than the demo seed's own registration of D001.
    assert_eq!(audit_count(&gateway, "dealer.registered").await, 2);
    assert_eq!(audit_count(&gateway, "dealer.edited").await, 1);
    let trail: Option<String> = sqlx::query_scalar(
        "SELECT dealer_code FROM audit_log WHERE action = 'dealer.registered' \
             ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(trail.as_deref(), Some("D002"));
}

#[tokio::test]
async fn limits_and_blocking_reach_the_phones_at_once() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let operator = gateway.console_session(OPERATOR).await;
    let page = format!("{LIST}/{DEALER}");
    let (html, csrf) = gateway.console_page(&page, &operator).await;
    assert!(html.contains("id=\"dealer-limits\""), "{html}");
    let thousand = || kcell("7011234567", 100_000);
    assert_eq!(gateway.check(&phone, thousand()).await, ResultCode::Ok);

    let limits = |payment: &'static str, daily: &'static str| {
        let (gateway, operator, csrf, page) = (&gateway, &operator, &csrf, &page);
        async move {
            let code = gateway.operator_code().await;
            gateway
                .console_post(
                    &format!("{page}/limits"),
                    operator,
                    &[
                        ("csrf", csrf),
                        ("payment_limit", payment),
                        ("daily_limit", daily),
                        ("otp", &code),
                    ],
                )
                .await
        }
    };
    // 83: above the dealer's payment limit.
    assert_eq!(limits("500", "").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gateway.check(&phone, thousand()).await,
        ResultCode::DealerPaymentLimit
    );
    // 84: above what all its points may pay today.
    assert_eq!(limits("", "500").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gateway.check(&phone, thousand()).await,
        ResultCode::DealerDailyLimit
    );
    // Zero is not a limit: refused, the typed value kept, nothing changed.
    let response = limits("0", "500").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"0\""), "{html}");
    assert!(html.contains("Лимит — сумма больше нуля"), "{html}");
    assert_eq!(
        gateway.check(&phone, thousand()).await,
        ResultCode::DealerDailyLimit
    );
    // Blank is no limit.
    assert_eq!(limits("", "").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.check(&phone, thousand()).await, ResultCode::Ok);

    // Blocked: the phone gets 52 on its very next request; unblocked, it works again.
    let code = gateway.operator_code().await;
    let response = gateway
        .console_post(
            &format!("{page}/block"),
            &operator,
            &[("csrf", &csrf), ("otp", &code)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gateway.check(&phone, thousand()).await,
        ResultCode::DealerBlocked
    );
    let (html, _) = gateway.console_page(&page, &operator).await;
    assert!(
        html.contains("id=\"dealer-state\" data-active=\"false\""),
        "{html}"
    );
    let code = gateway.operator_code().await;
    let response = gateway
        .console_post(
            &format!("{page}/unblock"),
            &operator,
            &[("csrf", &csrf), ("otp", &code)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.check(&phone, thousand()).await, ResultCode::Ok);

    assert_eq!(audit_count(&gateway, "dealer.limits").await, 3);
    assert_eq!(audit_count(&gateway, "dealer.blocked").await, 1);
    assert_eq!(audit_count(&gateway, "dealer.unblocked").await, 1);
}

#[tokio::test]
async fn the_operator_invites_the_dealers_first_user_who_logs_in() {
    let gateway = support::start().await;
    let operator = gateway.console_session(OPERATOR).await;
    let code = register(&gateway, &operator, "ТОО «Береке»", OTHER_BIN).await;
    let page = format!("{LIST}/{code}");
    let (html, csrf) = gateway.console_page(&page, &operator).await;
    assert!(html.contains("id=\"invite-dealer-user\""), "{html}");
    assert!(html.contains("id=\"no-dealer-users\""), "{html}");

    // Not an address: refused, the typed text kept, nobody created.
    let otp = gateway.operator_code().await;
    let response = gateway
        .console_post(
            &format!("{page}/users"),
            &operator,
            &[
                ("csrf", &csrf),
                ("email", "boss-at-bereke"),
                ("access_level", "full"),
                ("otp", &otp),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"boss-at-bereke\""), "{html}");

    let otp = gateway.operator_code().await;
    let response = gateway
        .console_post(
            &format!("{page}/users"),
            &operator,
            &[
                ("csrf", &csrf),
                ("email", "boss@bereke.kz"),
                ("access_level", "full"),
                ("otp", &otp),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let password = text_by_id(&html, "one-time-password").expect("the password, once");
    assert!(password.len() >= 8, "{password}");
    // Shown once: the page again does not have it.
    let (html, _) = gateway.console_page(&page, &operator).await;
    assert!(!html.contains(&password), "{html}");
    assert!(html.contains("data-user=\"boss@bereke.kz\""), "{html}");

    // The same e-mail again: its own error.
    let otp = gateway.operator_code().await;
    let response = gateway
        .console_post(
            &format!("{page}/users"),
            &operator,
            &[
                ("csrf", &csrf),
                ("email", "boss@bereke.kz"),
                ("access_level", "create_view"),
                ("otp", &otp),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Пользователь с такой электронной почтой уже есть."),
        "{html}"
    );

    // The new user logs in with the one-time password and must choose their own first.
    let response = gateway.login(("boss@bereke.kz", &password)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers().contains_key(header::SET_COOKIE));
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let response = gateway.console_get("/console/money", &cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/password");

    let (dealer, level): (Option<String>, String) = sqlx::query_as(
        "SELECT dealer_code, access_level FROM console_users WHERE email = 'boss@bereke.kz'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(
        (dealer.as_deref(), level.as_str()),
        (Some(code.as_str()), "full")
    );
    // One more than the demo seed's three users.
    assert_eq!(audit_count(&gateway, "user.invited").await, 4);
}

#[tokio::test]
async fn a_dealers_users_get_403_on_every_operator_route() {
    let gateway = support::start().await;
    let gets = [
        LIST.to_owned(),
        format!("{LIST}/D001"),
        "/console/operator/top-ups".to_owned(),
    ];
    let posts = [
        LIST.to_owned(),
        format!("{LIST}/D001"),
        format!("{LIST}/D001/block"),
        format!("{LIST}/D001/unblock"),
        format!("{LIST}/D001/limits"),
        format!("{LIST}/D001/users"),
        format!("{LIST}/D001/corrections"),
        format!("{LIST}/D001/corrections/K1/reverse"),
        "/console/operator/top-ups/T1/confirm".to_owned(),
        "/console/operator/top-ups/T1/reject".to_owned(),
    ];
    let balance = gateway.balance_of(DEALER).await;
    for user in [ADMIN, CLERK] {
        let cookie = gateway.console_session(user).await;
        let (_, csrf) = gateway.console_page("/console/money", &cookie).await;
        for path in &gets {
            let response = gateway.console_get(path, &cookie).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} GET {path}",
                user.0
            );
        }
        for path in &posts {
            let code = gateway.admin_code().await;
            let response = gateway
                .console_post(
                    path,
                    &cookie,
                    &[
                        ("csrf", &csrf),
                        ("otp", &code),
                        ("name", "X"),
                        ("bin", BIN),
                        ("bank_account", IBAN),
                        ("amount", "1000"),
                        ("reason", "x"),
                        ("payment_limit", "1"),
                        ("email", "x@y.kz"),
                        ("access_level", "full"),
                    ],
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{} POST {path}",
                user.0
            );
        }
    }
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    let dealers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dealers")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(dealers, 1);
}
