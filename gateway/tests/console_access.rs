//! Guards the dealer console's access levels and one-time codes over real HTTP, as a browser
//! uses them: a create-and-view user cannot certify, activate, block, change limits, confirm or
//! read the audit trail (403, nothing changes) but can register a point and prepare a point's
//! limits, which a full-access user then confirms with a one-time code; a wrong code and a
//! code used once already are refused; a full-access user without codes is sent to enrol, and
//! enrolment by QR secret and a first code works once; posts without the CSRF token and
//! sessions past their end are refused.

mod support;

use reqwest::{StatusCode, header};
use support::{
    Gateway,
    browser::{ADMIN, ADMIN_TOTP_SECRET, CLERK, text_by_id, totp_at},
    now_ms,
    payments::DEALER,
};
use tolem_gateway::password::hash_password_blocking;

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn error_kind(response: reqwest::Response) -> String {
    let html = response.text().await.unwrap();
    html.split("data-error=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no error page: {html}"))
        .to_owned()
}

#[tokio::test]
async fn create_and_view_cannot_confirm_anything() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let balance = gateway.balance_of(DEALER).await;
    let cookie = gateway.console_session(CLERK).await;
    let (_, csrf) = gateway.console_page("/console/money", &cookie).await;
    // A valid code of the admin's does not lend the operator the admin's rights.
    let code = totp_at(ADMIN_TOTP_SECRET, now_ms());
    let limits = [
        ("payment_limit", "1000"),
        ("daily_limit", ""),
        ("offline_max_payment", "10"),
        ("offline_max_total", "10"),
        ("offline_max_age_hours", "1"),
    ];
    let attempts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/console/keys/{serial}/certify"), vec![]),
        (format!("/console/keys/{serial}/revoke"), vec![]),
        ("/console/points/P1001/activate".into(), vec![]),
        ("/console/points/P1001/block".into(), vec![]),
        ("/console/points/P1001/unblock".into(), vec![]),
        ("/console/points/P1001/limits".into(), limits.to_vec()),
        ("/console/points/P1001/cashiers/C1/block".into(), vec![]),
        ("/console/money/commission".into(), vec![]),
        ("/console/operations/op-1/confirm".into(), vec![]),
    ];
    for (path, mut form) in attempts {
        form.push(("csrf", &csrf));
        form.push(("otp", &code));
        let response = gateway.console_post(&path, &cookie, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(error_kind(response).await, "forbidden", "{path}");
    }
    for path in ["/console/audit", "/console/audit.csv"] {
        let response = gateway.console_get(path, &cookie).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(gateway.key_state(&serial).await, "pending");
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    let point: (i64, Option<i64>) =
        sqlx::query_as("SELECT active, payment_limit_tiyn FROM points WHERE code = 'P1001'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(point, (0, None));
}

#[tokio::test]
async fn create_and_view_prepares_and_full_access_confirms_with_a_code() {
    let gateway = support::start().await;
    let balance = gateway.balance_of(DEALER).await;

    // The operator registers a point and prepares a top-up.
    let operator = gateway.console_session(CLERK).await;
    let (html, csrf) = gateway.console_page("/console/points", &operator).await;
    assert!(html.contains("id=\"register-point\""), "{html}");
    let response = gateway
        .console_post(
            "/console/points",
            &operator,
            &[
                ("csrf", &csrf),
                ("name", "Киоск «Береке»"),
                ("address", "Алматы"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        text_by_id(&html, "new-point-code")
            .unwrap()
            .starts_with('P')
    );

    let response = gateway
        .console_post(
            "/console/points/P1001/limits/prepare",
            &operator,
            &limits_form(&csrf, "25 000,50"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/operations");
    assert_eq!(payment_limit(&gateway).await, None, "prepared, not applied");
    let (html, _) = gateway.console_page("/console/operations", &operator).await;
    assert!(html.contains("data-operation=\"op-1\""), "{html}");
    assert!(
        !html.contains("class=\"confirm\""),
        "only full access confirms"
    );

    // The admin confirms it: a wrong code first, then the right one, then the same again.
    let admin = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/operations", &admin).await;
    assert!(html.contains("class=\"confirm\""), "{html}");
    // The code used to log in is spent: the next one comes from a fresh step.
    let right = gateway.admin_code().await;
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    let confirm = |otp: String| {
        let (gateway, admin, csrf) = (&gateway, &admin, &csrf);
        async move {
            gateway
                .console_post(
                    "/console/operations/op-1/confirm",
                    admin,
                    &[("csrf", csrf), ("otp", &otp)],
                )
                .await
        }
    };
    let response = confirm(wrong.to_owned()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_kind(response).await, "code-wrong");
    assert_eq!(payment_limit(&gateway).await, None);

    let response = confirm(right.clone()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{right}");
    assert_eq!(payment_limit(&gateway).await, Some(2_500_050));
    let (html, _) = gateway.console_page("/console/operations", &admin).await;
    assert!(html.contains("data-state=\"confirmed\""), "{html}");

    // The same code for another operation: refused, the operation stays prepared.
    let response = gateway
        .console_post(
            "/console/points/P1001/limits/prepare",
            &operator,
            &limits_form(&csrf_of(&gateway, &operator).await, "1"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = gateway
        .console_post(
            "/console/operations/op-2/confirm",
            &admin,
            &[("csrf", &csrf), ("otp", &right)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_kind(response).await, "code-reused");
    let state: String = sqlx::query_scalar("SELECT state FROM operations WHERE id = 'op-2'")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(state, "prepared");

    // The operator may cancel their own; a confirmed one cannot be cancelled.
    let csrf_operator = csrf_of(&gateway, &operator).await;
    for (id, status) in [
        ("op-1", StatusCode::NOT_FOUND),
        ("op-2", StatusCode::SEE_OTHER),
    ] {
        let response = gateway
            .console_post(
                &format!("/console/operations/{id}/cancel"),
                &operator,
                &[("csrf", &csrf_operator)],
            )
            .await;
        assert_eq!(response.status(), status, "{id}");
    }
    assert_eq!(payment_limit(&gateway).await, Some(2_500_050));
    assert_eq!(gateway.balance_of(DEALER).await, balance);
}

/// The limits form of P1001 with `payment` as its payment limit.
fn limits_form<'a>(csrf: &'a str, payment: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("payment_limit", payment),
        ("daily_limit", ""),
        ("offline_max_payment", "10"),
        ("offline_max_total", "10"),
        ("offline_max_age_hours", "1"),
    ]
}

async fn payment_limit(gateway: &Gateway) -> Option<i64> {
    sqlx::query_scalar("SELECT payment_limit_tiyn FROM points WHERE code = 'P1001'")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

async fn csrf_of(gateway: &Gateway, cookie: &str) -> String {
    gateway.console_page("/console/points", cookie).await.1
}

#[tokio::test]
async fn a_full_user_without_codes_enrols_first() {
    let gateway = support::start().await;
    let hash = hash_password_blocking("second-admin-pass").unwrap();
    sqlx::query(
        "INSERT INTO console_users (email, dealer_code, password_hash, access_level, created_at_ms) \
         VALUES ('boss@tolem.demo', 'D001', $1, 'full', 0)",
    )
    .bind(hash)
    .execute(&gateway.pool)
    .await
    .unwrap();
    let cookie = gateway
        .console_session(("boss@tolem.demo", "second-admin-pass"))
        .await;
    // Every page sends a full-access user without codes to set them up first.
    for path in ["/console/money", "/console/keys", "/console/"] {
        let response = gateway.console_get(path, &cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&response);
        assert!(
            to == "/console/totp" || to == "/console/keys",
            "{path}: {to}"
        );
    }

    let (html, csrf) = gateway.console_page("/console/totp", &cookie).await;
    assert!(html.contains("<svg"), "a QR code: {html}");
    let secret: String = text_by_id(&html, "totp-secret")
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(secret.len(), 32);
    // Reloading shows the same secret until it is confirmed.
    let (again, _) = gateway.console_page("/console/totp", &cookie).await;
    assert!(again.contains(&text_by_id(&html, "totp-secret").unwrap()));

    let response = gateway
        .console_post(
            "/console/totp",
            &cookie,
            &[("csrf", &csrf), ("otp", "000000x")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let first = totp_at(&secret, now_ms());
    let response = gateway
        .console_post(
            "/console/totp",
            &cookie,
            &[("csrf", &csrf), ("otp", &first)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/keys", "enrolled: on to work");
    let (html, _) = gateway.console_page("/console/totp", &cookie).await;
    assert!(html.contains("id=\"totp-enrolled\""), "{html}");
    assert!(
        !html.contains(&secret[..8]),
        "the secret is never shown again"
    );

    // The enrolment code is spent; the next step's code works.
    let (_, csrf) = gateway.console_page("/console/points/P1001", &cookie).await;
    let mut limits = vec![
        ("csrf", csrf.as_str()),
        ("payment_limit", "1000"),
        ("daily_limit", ""),
        ("offline_max_payment", "10"),
        ("offline_max_total", "10"),
        ("offline_max_age_hours", "1"),
        ("otp", &first),
    ];
    let response = gateway
        .console_post("/console/points/P1001/limits", &cookie, &limits)
        .await;
    // Refused on the form itself, the limits typed kept.
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(html.contains("уже использован"), "{html}");
    assert!(html.contains("value=\"1000\""), "{html}");
    let next = totp_at(&secret, now_ms() + 30_000);
    limits[6] = ("otp", &next);
    let response = gateway
        .console_post("/console/points/P1001/limits", &cookie, &limits)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/points/P1001");
}

#[tokio::test]
async fn posts_without_the_token_and_dead_sessions_change_nothing() {
    let gateway = support::start().await;
    let cookie = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/money", &cookie).await;
    let balance = gateway.balance_of(DEALER).await;
    let points = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM points")
            .fetch_one(&gateway.pool)
            .await
            .unwrap()
    };
    let before = points().await;

    for (path, form) in [
        ("/console/points", vec![("name", "X")]),
        (
            "/console/money/top-up-requests",
            vec![
                ("amount", "5"),
                ("reference", "A"),
                ("paid_on", "2025-01-01"),
            ],
        ),
        ("/console/points/P1001/password", vec![]),
    ] {
        let code = gateway.admin_code().await;
        let mut form = form.clone();
        form.push(("otp", &code));
        let response = gateway.console_post(path, &cookie, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(error_kind(response).await, "csrf", "{path}");
    }
    assert_eq!(points().await, before);
    assert_eq!(gateway.balance_of(DEALER).await, balance);

    // Past the session's absolute end, a post with the right token and code is sent to login.
    gateway
        .sql("UPDATE console_sessions SET expires_at_ms = 1")
        .await;
    let response = gateway
        .confirmed_post(
            "/console/money/top-up-requests",
            &cookie,
            &csrf,
            &[
                ("amount", "5"),
                ("reference", "C"),
                ("paid_on", "2025-01-01"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/login");
    assert_eq!(gateway.balance_of(DEALER).await, balance);
    let requests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM top_up_requests")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert_eq!(requests, 1, "only the demo seed's opening top-up");
}
