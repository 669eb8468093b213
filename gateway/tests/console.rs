//! Guards the dealer console's login and sessions over real HTTP, as a browser uses them:
//! login refused for a wrong password or an unknown e-mail (the same page); the session
//! cookie's flags, and only its hash stored; idle, expired and logged-out sessions go back to
//! login, and a session in use is kept alive without a page waiting for the database's writer
//! (payments hold it); forms without the session's CSRF token, or from another origin, get 403; the language
//! switch is remembered; a flood of wrong passwords is throttled and leaves at most two audit
//! rows, and the right password works once the window has passed; an oversized login form gets
//! 413, not "wrong password". (The keys page itself:
//! `console_keys.rs`.)

mod support;

use reqwest::{StatusCode, header};
use sqlx::{AnyConnection, Connection};
use support::browser::ADMIN;

#[tokio::test]
async fn wrong_password_and_unknown_email_are_refused_alike() {
    let gateway = support::start().await;
    let wrong = gateway.login((ADMIN.0, "guess")).await;
    let unknown = gateway.login(("nobody@tolem.demo", ADMIN.1)).await;
    for response in [wrong, unknown] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        let html = response.text().await.unwrap();
        assert!(
            html.contains("Неверная электронная почта, пароль или одноразовый код"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn session_cookie_is_locked_down() {
    let gateway = support::start().await;
    let response = gateway.login(ADMIN).await;
    assert_eq!(response.headers()[header::LOCATION], "/console/keys");
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for flag in [
        "tolem_console=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("tolem_console=");
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM console_sessions WHERE id_hash = $1")
            .bind(token)
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0, "the token itself must not be stored");

    let secure = support::start_with(true).await;
    let response = secure.login(ADMIN).await;
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn forms_without_the_token_or_from_elsewhere_are_forbidden() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let path = format!("/console/keys/{}/certify", phone.card.key_serial);
    let cookie = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.keys_page(&cookie).await;

    let missing = gateway.console_post(&path, &cookie, &[]).await;
    let wrong = gateway
        .console_post(&path, &cookie, &[("csrf", "forged")])
        .await;
    let foreign = gateway
        .client
        .post(format!("{}{path}", gateway.url))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    for response in [missing, wrong, foreign] {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(gateway.key_state(&phone.card.key_serial).await, "pending");

    // The same form from our own origin goes through.
    let code = gateway.admin_code().await;
    let ours = gateway
        .client
        .post(format!("{}{path}", gateway.url))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, &gateway.url)
        .form(&[("csrf", csrf.as_str()), ("otp", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(ours.status(), StatusCode::SEE_OTHER);
    assert_eq!(gateway.key_state(&phone.card.key_serial).await, "certified");
}

#[tokio::test]
async fn idle_and_expired_sessions_go_back_to_login() {
    let gateway = support::start().await;
    let cookie = gateway.console_session(ADMIN).await;
    assert_eq!(
        gateway.console_get("/console/keys", &cookie).await.status(),
        StatusCode::OK
    );

    // 31 minutes without a request.
    gateway
        .sql("UPDATE console_sessions SET last_seen_at_ms = last_seen_at_ms - 31 * 60000")
        .await;
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/console/login");

    // Active all along, but past the absolute end.
    let cookie = gateway.console_session(ADMIN).await;
    gateway
        .sql("UPDATE console_sessions SET expires_at_ms = 1")
        .await;
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(response.headers()[header::LOCATION], "/console/login");

    // No cookie at all; and after logging out the old cookie is dead.
    let response = gateway.console_get("/console/keys", "").await;
    assert_eq!(response.headers()[header::LOCATION], "/console/login");
    let cookie = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.keys_page(&cookie).await;
    let response = gateway
        .console_post("/console/logout", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(response.headers()[header::LOCATION], "/console/login");
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(response.headers()[header::LOCATION], "/console/login");
}

#[tokio::test]
async fn a_page_view_does_not_wait_for_the_writer_and_a_session_in_use_stays_alive() {
    let gateway = support::start().await;
    let cookie = gateway.console_session(ADMIN).await;

    // Payments (or deliveries) hold the database's writer — on SQLite its one write lock, on
    // PostgreSQL the session rows — for as long as they take. The dealer's page still answers:
    // viewing it writes nothing the writer holds. (It used to mark the session as seen on every
    // view, wait out SQLite's busy timeout and fail with "database is locked".)
    let mut writer = AnyConnection::connect(&gateway.database_url).await.unwrap();
    let statements: &[&str] = if gateway.database_url.starts_with("sqlite:") {
        &["BEGIN IMMEDIATE"]
    } else {
        &["BEGIN", "SELECT id_hash FROM console_sessions FOR UPDATE"]
    };
    for statement in statements {
        sqlx::query(statement).execute(&mut writer).await.unwrap();
    }
    // A safety net only (PostgreSQL would wait for ever): the status is what is checked.
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        gateway.console_get("/console/keys", &cookie),
    )
    .await
    .expect("the page answered while the writer held the database");
    assert_eq!(response.status(), StatusCode::OK);
    sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();

    // 29 minutes after the last mark the session is alive, and using it renews the mark: it does
    // not end 30 minutes after login while the dealer works.
    gateway
        .sql("UPDATE console_sessions SET last_seen_at_ms = last_seen_at_ms - 29 * 60000")
        .await;
    let before = support::now_ms();
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let seen: i64 = sqlx::query_scalar("SELECT MAX(last_seen_at_ms) FROM console_sessions")
        .fetch_one(&gateway.pool)
        .await
        .unwrap();
    assert!(seen >= before, "the session was marked as seen again");
}

#[tokio::test]
async fn the_language_switch_is_remembered() {
    let gateway = support::start().await;
    let response = gateway.console_get("/console/login?lang=kk", "").await;
    let set_cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.starts_with("tolem_lang=kk"), "{set_cookie}");
    assert!(response.text().await.unwrap().contains("Кіру"));

    let response = gateway.console_get("/console/login", "tolem_lang=en").await;
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Log in") && html.contains("lang=\"en\""),
        "{html}"
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

/// The audit trail's refused logins.
async fn failed_logins_audited(gateway: &support::Gateway) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'")
        .fetch_one(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_login_flood_is_throttled_without_an_audit_row_per_attempt() {
    let gateway = support::start().await;
    let before = failed_logins_audited(&gateway).await;
    let mut throttled = 0;
    for _ in 0..50 {
        let status = gateway.login((ADMIN.0, "guess")).await.status();
        match status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("a wrong password answered {other}"),
        }
    }
    assert_eq!(throttled, 45, "blocked after the 5 free failures");
    // The first failure of the window and the one that blocked: not 50 rows, not 50 write locks.
    let written = failed_logins_audited(&gateway).await - before;
    assert!((1..=2).contains(&written), "{written} audit rows");
    // Still blocked, even with the right password.
    assert_eq!(
        gateway.login(ADMIN).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // The window passes (moved back in time rather than waited for): the right password works.
    gateway
        .sql(
            "UPDATE login_attempts SET blocked_until_ms = 0, first_failure_at_ms = 0, \
             last_failure_at_ms = 0",
        )
        .await;
    let response = gateway.login(ADMIN).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_oversized_login_form_is_answered_413_not_as_a_wrong_password() {
    let gateway = support::start().await;
    let huge = "a".repeat(3 * 1024 * 1024);
    let response = gateway
        .client
        .post(format!("{}/console/login", gateway.url))
        .form(&[("email", huge.as_str()), ("password", "x"), ("otp", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = response.text().await.unwrap();
    assert!(html.contains("Форма слишком большая"), "{html}");
}
