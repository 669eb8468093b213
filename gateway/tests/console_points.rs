//! Guards points and cashiers in the dealer console over real HTTP: registering a point shows
//! its code and password once (only a hash is stored, no later page shows it) and that password
//! gets a key card from `/api/v1/key-card`; a reset password replaces it; offline limits set in
//! the console (directly, or prepared and confirmed) are on the phone's next key card and the
//! online ones are enforced at once; blocking a point or a cashier stops the phone (53, 54) and
//! unblocking lets it pay again; the point page shows every key card and key.

mod support;

use reqwest::StatusCode;
use support::{
    Gateway,
    browser::{ADMIN, CLERK, text_by_id},
    payments::kcell,
};
use tolem_protocol::{
    codes::ResultCode,
    messages::{KeyCard, Outcome, Step},
};

/// Registers a point as the operator; returns its code and password from the page.
async fn register_point(gateway: &Gateway, name: &str) -> (String, String) {
    let cookie = gateway.console_session(CLERK).await;
    let (_, csrf) = gateway.console_page("/console/points", &cookie).await;
    let response = gateway
        .console_post(
            "/console/points",
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", name),
                ("address", "Шымкент, ул. Байтурсынова, 12"),
                ("working_hours", "Пн–Сб 09:00–21:00"),
                ("cashier_name", "Айгерим"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    (
        text_by_id(&html, "new-point-code").expect("the code"),
        text_by_id(&html, "new-point-password").expect("the password"),
    )
}

/// The key card a new phone would get now — with a password the dealer has just given it (the
/// same text, unused: the tests here read the card's limits, not how passwords wear out).
async fn key_card(gateway: &Gateway, point: &str, password: &str) -> Result<KeyCard, ResultCode> {
    gateway.renew_point_password(point).await;
    let reply = gateway.key_card(point, password).await;
    match reply.response().outcome {
        Some(Outcome::KeyCard(card)) => Ok(card),
        _ => Err(reply.code()),
    }
}

#[tokio::test]
async fn a_registered_point_gets_a_password_once_and_it_works() {
    let gateway = support::start().await;
    let (code, password) = register_point(&gateway, "Киоск «Береке»").await;
    assert_eq!(code, "P1002", "P1001 is the demo's");
    assert_eq!(password.len(), 14, "{password}");

    let stored: (String, i64, String) =
        sqlx::query_as("SELECT password_hash, active, working_hours FROM points WHERE code = $1")
            .bind(&code)
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert!(stored.0.starts_with("$argon2id$") && !stored.0.contains(&password));
    assert_eq!((stored.1, stored.2.as_str()), (0, "Пн–Сб 09:00–21:00"));

    let card = key_card(&gateway, &code, &password).await.unwrap();
    assert_eq!(
        (card.point.as_str(), card.point_name.as_str()),
        (code.as_str(), "Киоск «Береке»")
    );
    assert_eq!(card.cashier, "C1");
    assert_eq!(card.offline.max_payment_tiyn, 5_000_000, "the defaults");

    // No page shows the password again.
    let admin = gateway.console_session(ADMIN).await;
    for path in [
        "/console/points".to_owned(),
        format!("/console/points/{code}"),
    ] {
        let (html, _) = gateway.console_page(&path, &admin).await;
        assert!(!html.contains(&password), "{path}");
        assert!(html.contains("Киоск «Береке»"), "{path}");
    }

    // A new password replaces the old one.
    let (_, csrf) = gateway.console_page("/console/points", &admin).await;
    let response = gateway
        .console_post(
            &format!("/console/points/{code}/password"),
            &admin,
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_password = text_by_id(&response.text().await.unwrap(), "new-point-password").unwrap();
    assert_ne!(new_password, password);
    assert_eq!(
        key_card(&gateway, &code, &password).await.unwrap_err(),
        ResultCode::BadCredentials
    );
    assert!(key_card(&gateway, &code, &new_password).await.is_ok());
}

#[tokio::test]
async fn limits_set_in_the_console_reach_the_phone() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    assert_eq!(phone.card.offline.max_age_ms, 72 * 3_600_000);
    let admin = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(html.contains("id=\"limits\""), "{html}");

    let response = gateway
        .confirmed_post(
            "/console/points/P1001/limits",
            &admin,
            &csrf,
            &[
                ("payment_limit", "20 000"),
                ("daily_limit", ""),
                ("offline_max_payment", "15000"),
                ("offline_max_total", "60000,50"),
                ("offline_max_age_hours", "24"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let card = key_card(&gateway, "P1001", support::PASSWORD)
        .await
        .unwrap();
    assert_eq!(card.offline.max_payment_tiyn, 1_500_000);
    assert_eq!(card.offline.max_total_tiyn, 6_000_050);
    assert_eq!(card.offline.max_age_ms, 24 * 3_600_000);
    // The online limit is enforced at once: 81 over 20 000 tenge.
    assert_eq!(
        gateway.check(&phone, kcell("7011234567", 2_000_100)).await,
        ResultCode::PointPaymentLimit
    );

    // Bad input changes nothing.
    let response = gateway
        .confirmed_post(
            "/console/points/P1001/limits",
            &admin,
            &csrf,
            &[
                ("payment_limit", "-5"),
                ("offline_max_payment", "1"),
                ("offline_max_total", "1"),
                ("offline_max_age_hours", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The form again, saying why, with what was typed (not the limits stored) to correct.
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("value=\"-5\""), "{html}");
    // Hours that are not a number, then a wrong one-time code: the same, what was typed kept.
    let with_wrong_code = |hours: &'static str| {
        let (gateway, admin, csrf) = (&gateway, &admin, &csrf);
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("otp", "12345"),
                ("payment_limit", "30 000"),
                ("offline_max_payment", "1"),
                ("offline_max_total", "1"),
                ("offline_max_age_hours", hours),
            ];
            let response = gateway
                .console_post("/console/points/P1001/limits", admin, &form)
                .await;
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, html) = with_wrong_code("abc").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("value=\"abc\""), "{html}");
    let (status, html) = with_wrong_code("2").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Неверный одноразовый код"), "{html}");
    assert!(html.contains("value=\"30 000\""), "{html}");
    assert_eq!(
        key_card(&gateway, "P1001", support::PASSWORD)
            .await
            .unwrap()
            .offline
            .max_age_ms,
        24 * 3_600_000,
        "nothing changed"
    );

    // The operator prepares new offline limits; the admin confirms; the next card has them.
    let operator = gateway.console_session(CLERK).await;
    let (html, operator_csrf) = gateway
        .console_page("/console/points/P1001", &operator)
        .await;
    assert!(
        html.contains("action=\"/console/points/P1001/limits/prepare\""),
        "{html}"
    );
    let response = gateway
        .console_post(
            "/console/points/P1001/limits/prepare",
            &operator,
            &[
                ("csrf", &operator_csrf),
                ("payment_limit", ""),
                ("daily_limit", "500000"),
                ("offline_max_payment", "0"),
                ("offline_max_total", "0"),
                ("offline_max_age_hours", "0"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        key_card(&gateway, "P1001", support::PASSWORD)
            .await
            .unwrap()
            .offline
            .max_payment_tiyn,
        1_500_000,
        "not before it is confirmed"
    );
    let response = gateway
        .confirmed_post("/console/operations/op-1/confirm", &admin, &csrf, &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let card = key_card(&gateway, "P1001", support::PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        (
            card.offline.max_payment_tiyn,
            card.offline.max_total_tiyn,
            card.offline.max_age_ms
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn blocking_stops_the_phone_and_unblocking_lets_it_pay() {
    let gateway = support::start().await;
    let phone = gateway.ready_phone(1).await;
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/points/P1001", &admin).await;
    let balance = || {
        let (gateway, phone) = (&gateway, &phone);
        async move { gateway.send(phone, &phone.request(Step::Balance)).await }
    };

    let post = |path: &'static str| gateway.confirmed_post(path, &admin, &csrf, &[]);
    assert_eq!(
        post("/console/points/P1001/block").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(balance().await.code(), ResultCode::PointBlocked);
    let (html, _) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(html.contains("data-state=\"blocked\""), "{html}");
    // Blocking twice: it is blocked already.
    assert_eq!(
        post("/console/points/P1001/block").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post("/console/points/P1001/unblock").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(balance().await.code(), ResultCode::Ok);

    assert_eq!(
        post("/console/points/P1001/cashiers/C1/block")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(balance().await.code(), ResultCode::CashierBlocked);
    assert_eq!(
        post("/console/points/P1001/cashiers/C1/unblock")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(balance().await.code(), ResultCode::Ok);

    // Another cashier, registered by the operator; and the point's key history.
    let operator = gateway.console_session(CLERK).await;
    let (_, operator_csrf) = gateway
        .console_page("/console/points/P1001", &operator)
        .await;
    let response = gateway
        .console_post(
            "/console/points/P1001/cashiers",
            &operator,
            &[("csrf", &operator_csrf), ("name", "Ерлан")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (html, _) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(html.contains("data-cashier=\"C2\""), "{html}");
    assert!(html.contains("Ерлан"));
    let serial = &phone.card.key_serial;
    assert!(
        html.contains(&format!(
            "data-serial=\"{serial}\" data-state=\"certified\""
        )),
        "{html}"
    );
}

#[tokio::test]
async fn a_create_and_view_user_adds_cashiers_blocked_and_only_full_access_unblocks_them() {
    let gateway = support::start().await;
    let clerk = gateway.console_session(CLERK).await;
    let (_, clerk_csrf) = gateway.console_page("/console/points/P1001", &clerk).await;
    let response = gateway
        .console_post(
            "/console/points/P1001/cashiers",
            &clerk,
            &[("csrf", &clerk_csrf), ("name", "Ерлан")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let active = || async {
        sqlx::query_scalar::<_, i16>(
            "SELECT active FROM cashiers WHERE point_code = 'P1001' AND code = 'C2'",
        )
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
    };
    assert_eq!(active().await, 0, "a create-and-view user's cashier waits");
    let (html, _) = gateway.console_page("/console/points/P1001", &clerk).await;
    assert!(
        html.contains("data-cashier=\"C2\" data-active=\"false\""),
        "{html}"
    );

    // The clerk cannot unblock it...
    let response = gateway
        .console_post(
            "/console/points/P1001/cashiers/C2/unblock",
            &clerk,
            &[("csrf", &clerk_csrf), ("otp", "000000")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(active().await, 0);
    // ...a full-access user can, with a code; and their own cashiers are active at once.
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/points/P1001", &admin).await;
    let response = gateway
        .confirmed_post(
            "/console/points/P1001/cashiers/C2/unblock",
            &admin,
            &csrf,
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(active().await, 1);
    let response = gateway
        .console_post(
            "/console/points/P1001/cashiers",
            &admin,
            &[("csrf", &csrf), ("name", "Айгуль")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (html, _) = gateway.console_page("/console/points/P1001", &admin).await;
    assert!(
        html.contains("data-cashier=\"C3\" data-active=\"true\""),
        "{html}"
    );
}

/// A name of spaces only (the browser's `required` takes it): the list again with the reason,
/// everything typed still there, nothing registered.
#[tokio::test]
async fn a_refused_registration_keeps_what_was_typed() {
    let gateway = support::start().await;
    let cookie = gateway.console_session(CLERK).await;
    let (_, csrf) = gateway.console_page("/console/points", &cookie).await;
    let response = gateway
        .console_post(
            "/console/points",
            &cookie,
            &[
                ("csrf", &csrf),
                ("name", "   "),
                ("address", "Шымкент, ул. Байтурсынова, 12"),
                ("working_hours", "Пн–Сб 09:00–21:00"),
                ("cashier_name", "Айгерим"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"register-error\""), "{html}");
    for typed in [
        "Шымкент, ул. Байтурсынова, 12",
        "Пн–Сб 09:00–21:00",
        "Айгерим",
    ] {
        assert!(
            html.contains(&format!("value=\"{typed}\"")),
            "{typed}: {html}"
        );
    }
    let points: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM points")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(points, 1, "only the demo point");
}
