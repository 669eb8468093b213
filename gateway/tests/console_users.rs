//! Guards console users over real HTTP, as a browser uses the users pages: an invited user's
//! whole first login (one-time password, forced new password from every page, forced
//! one-time-code enrolment, then password AND code at each login; a wrong or reused code gets
//! the same refusal); blocking ends a live session at once and refuses logins, unblocking lets
//! in; a password reset gives a new one-time password and kills the old one; a one-time-code
//! reset needs the resetting user's own fresh code and makes the user enrol again; a duplicate
//! e-mail (any case) or a bad one is refused with what was typed kept; nobody blocks themselves
//! or the last full-access user; scoping (create-and-view gets 403, a dealer's admin reaches
//! neither the operator's users nor another dealer's, a dealer's user gets 403 on the
//! operator's page, the operator rescues a dealer's admin); every page shows when the session
//! ends; the password page refuses a wrong current password and a short one.

mod support;

use reqwest::{StatusCode, header};
use sqlx::Row;
use support::{
    Gateway,
    browser::{
        ADMIN, ADMIN_TOTP_SECRET, CLERK, OPERATOR, OPERATOR_TOTP_SECRET, text_by_id, totp_at,
    },
    now_ms,
};

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn error_kind(response: reqwest::Response) -> String {
    let html = response.text().await.unwrap();
    html.split("data-error=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no error page: {html}"))
        .to_owned()
}

/// The opening tag of the users table's row of `email`, if listed.
fn user_row(html: &str, email: &str) -> Option<String> {
    let start = html.find(&format!("data-user=\"{email}\""))?;
    let open = html[..start].rfind("<tr")?;
    let end = start + html[start..].find('>')?;
    Some(html[open..=end].to_owned())
}

/// The text of the page's `role="alert"` element (the refusal), if any.
fn alert(html: &str) -> Option<String> {
    let rest = html.split("role=\"alert\">").nth(1)?;
    Some(rest.split('<').next()?.trim().to_owned())
}

/// The value of `name="…"`'s `value` attribute in `html` (the first such input).
fn input_value(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let tag = &rest[..rest.find('>')?];
    tag.split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .map(str::to_owned)
}

/// (blocked, must change password, codes enrolled) of `email` in the database.
async fn stored(gateway: &Gateway, email: &str) -> (bool, bool, bool, String) {
    let row = sqlx::query(
        "SELECT blocked_at_ms, must_change_password, totp_secret, password_hash \
         FROM console_users WHERE email = $1",
    )
    .bind(email)
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    (
        row.try_get::<Option<i64>, _>("blocked_at_ms")
            .unwrap()
            .is_some(),
        row.try_get::<i64, _>("must_change_password").unwrap() != 0,
        row.try_get::<Option<String>, _>("totp_secret")
            .unwrap()
            .is_some(),
        row.try_get("password_hash").unwrap(),
    )
}

async fn admin_post(
    gateway: &Gateway,
    path: &str,
    cookie: &str,
    csrf: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    gateway.confirmed_post(path, cookie, csrf, form).await
}

async fn operator_post(
    gateway: &Gateway,
    path: &str,
    cookie: &str,
    csrf: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let code = gateway.code_of(OPERATOR.0, OPERATOR_TOTP_SECRET).await;
    let mut fields = form.to_vec();
    fields.push(("csrf", csrf));
    fields.push(("otp", &code));
    gateway.console_post(path, cookie, &fields).await
}

/// The admin of D001 invites `email` with `level`; returns the one-time password shown.
async fn invite(gateway: &Gateway, admin: &str, email: &str, level: &str) -> String {
    let (_, csrf) = gateway.console_page("/console/users", admin).await;
    let response = admin_post(
        gateway,
        "/console/users",
        admin,
        &csrf,
        &[("email", email), ("access_level", level)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert_eq!(
        text_by_id(&html, "one-time-password-for").as_deref(),
        Some(email)
    );
    let row = user_row(&html, email).expect("the new user is listed");
    assert!(row.contains(&format!("data-level=\"{level}\"")), "{row}");
    text_by_id(&html, "one-time-password").expect("the one-time password is shown")
}

/// Logs `email` in; the cookie on success, else the status.
async fn login(
    gateway: &Gateway,
    email: &str,
    password: &str,
    otp: &str,
) -> Result<(String, String), StatusCode> {
    let response = gateway.login_with_code((email, password), otp).await;
    if response.status() == StatusCode::SEE_OTHER {
        Ok((cookie_of(&response), location(&response)))
    } else {
        Err(response.status())
    }
}

/// Chooses a new password on the forced password page; returns where it sends the user.
async fn choose_password(gateway: &Gateway, cookie: &str, new: &str) -> String {
    let (html, csrf) = gateway.console_page("/console/password", cookie).await;
    assert!(html.contains("id=\"must-change\""), "{html}");
    let response = gateway
        .console_post(
            "/console/password",
            cookie,
            &[("csrf", &csrf), ("new", new), ("again", new)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

/// Enrols one-time codes on the enrolment page; returns the secret.
async fn enrol(gateway: &Gateway, cookie: &str) -> String {
    let (html, csrf) = gateway.console_page("/console/totp", cookie).await;
    let secret = text_by_id(&html, "totp-secret")
        .expect("the secret is shown")
        .replace(' ', "");
    let code = totp_at(&secret, now_ms());
    let response = gateway
        .console_post("/console/totp", cookie, &[("csrf", &csrf), ("otp", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/keys");
    secret
}

#[tokio::test]
async fn an_invited_user_logs_in_changes_password_enrols_and_then_needs_both() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let email = "new.admin@d001.kz";
    let one_time = invite(&gateway, &admin, email, "full").await;
    assert!(stored(&gateway, email).await.1, "must change the password");

    // The one-time password logs in, without a code (none set up yet).
    let (cookie, _) = login(&gateway, email, &one_time, "").await.unwrap();
    // Every page sends the user to choose a password first.
    for path in [
        "/console/keys",
        "/console/points",
        "/console/users",
        "/console/money",
        "/console/totp",
    ] {
        let response = gateway.console_get(path, &cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/console/password", "{path}");
    }
    let new_password = "a long passphrase of mine";
    let next = choose_password(&gateway, &cookie, new_password).await;
    assert_eq!(next, "/console/totp");
    // Full access: now every page sends the user to set up codes.
    for path in ["/console/keys", "/console/users"] {
        let response = gateway.console_get(path, &cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/console/totp", "{path}");
    }
    let secret = enrol(&gateway, &cookie).await;
    let (html, _) = gateway.console_page("/console/keys", &cookie).await;
    assert!(html.contains("id=\"session-ends\""));

    // The one-time password no longer works; the new one needs a code.
    assert!(login(&gateway, email, &one_time, "").await.is_err());
    let refused = gateway.login_with_code((email, new_password), "").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let message_no_code = alert(&refused.text().await.unwrap());
    let wrong = totp_at(&secret, now_ms() - 10 * 60_000);
    let refused = gateway.login_with_code((email, new_password), &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let message_wrong = alert(&refused.text().await.unwrap());
    let code = gateway.code_of(email, &secret).await;
    let (_, home) = login(&gateway, email, new_password, &code).await.unwrap();
    assert_eq!(home, "/console/keys");
    // The same code again: used up, the same refusal.
    let refused = gateway.login_with_code((email, new_password), &code).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let message_reused = alert(&refused.text().await.unwrap());
    assert!(message_wrong.is_some());
    assert_eq!(message_wrong, message_reused);
    assert_eq!(message_wrong, message_no_code);
}

#[tokio::test]
async fn a_create_and_view_user_chooses_a_password_and_needs_no_codes() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let email = "clerk2@d001.kz";
    let one_time = invite(&gateway, &admin, email, "create_view").await;
    let (cookie, _) = login(&gateway, email, &one_time, "").await.unwrap();
    let next = choose_password(&gateway, &cookie, "clerk two passphrase").await;
    assert_eq!(next, "/console/totp");
    // Codes are optional for create-and-view: the pages open.
    gateway.console_page("/console/keys", &cookie).await;
    let response = gateway.console_get("/console/users", &cookie).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn blocking_ends_a_live_session_and_unblocking_lets_in_again() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let clerk = gateway.console_session(CLERK).await;
    gateway.console_page("/console/keys", &clerk).await;

    let (html, csrf) = gateway.console_page("/console/users", &admin).await;
    let row = user_row(&html, CLERK.0).unwrap();
    assert!(row.contains("data-state=\"active\""), "{row}");
    let path = format!("/console/users/{}/block", CLERK.0);
    let response = admin_post(&gateway, &path, &admin, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/users");
    assert!(stored(&gateway, CLERK.0).await.0);
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'user.blocked' \
         AND subject = 'user:clerk@tolem.demo' AND actor = 'admin@tolem.demo' \
         AND dealer_code = 'D001'",
    )
    .fetch_one(&gateway.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // The live session is over at once, and logging in is refused.
    let response = gateway.console_get("/console/keys", &clerk).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/login");
    assert_eq!(
        gateway.login(CLERK).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (html, _) = gateway.console_page("/console/users", &admin).await;
    assert!(
        user_row(&html, CLERK.0)
            .unwrap()
            .contains("data-state=\"blocked\"")
    );

    let path = format!("/console/users/{}/unblock", CLERK.0);
    let response = admin_post(&gateway, &path, &admin, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!stored(&gateway, CLERK.0).await.0);
    let clerk = gateway.console_session(CLERK).await;
    gateway.console_page("/console/keys", &clerk).await;
}

#[tokio::test]
async fn nobody_blocks_themselves_or_the_last_full_access_user() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/users", &admin).await;
    let path = format!("/console/users/{}/block", ADMIN.0);
    let response = admin_post(&gateway, &path, &admin, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_kind(response).await, "invalid");
    assert!(!stored(&gateway, ADMIN.0).await.0);

    // The operator may act on D001's admin, but not block its last full-access user.
    let operator = gateway.console_session(OPERATOR).await;
    let (html, csrf) = gateway
        .console_page("/console/operator/users?dealer=D001", &operator)
        .await;
    assert!(user_row(&html, ADMIN.0).is_some());
    let response = operator_post(
        &gateway,
        &format!("/console/operator/users/{}/block?lang=en", ADMIN.0),
        &operator,
        &csrf,
        &[("dealer", "D001")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("last active user with full access"), "{html}");
    assert!(!stored(&gateway, ADMIN.0).await.0);
}

#[tokio::test]
async fn a_password_reset_gives_a_new_one_time_password_and_kills_the_old() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let clerk = gateway.console_session(CLERK).await;
    let (_, csrf) = gateway.console_page("/console/users", &admin).await;
    let path = format!("/console/users/{}/reset-password", CLERK.0);
    let response = admin_post(&gateway, &path, &admin, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert_eq!(
        text_by_id(&html, "one-time-password-for").as_deref(),
        Some(CLERK.0)
    );
    let one_time = text_by_id(&html, "one-time-password").unwrap();
    assert!(stored(&gateway, CLERK.0).await.1);

    // The clerk's session is over; the old password is refused, the new one forces a change.
    let response = gateway.console_get("/console/keys", &clerk).await;
    assert_eq!(location(&response), "/console/login");
    assert_eq!(
        gateway.login(CLERK).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (cookie, _) = login(&gateway, CLERK.0, &one_time, "").await.unwrap();
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(location(&response), "/console/password");
}

#[tokio::test]
async fn a_code_reset_needs_the_resetting_users_own_code_and_forces_enrolment() {
    let gateway = support::start().await;
    let operator = gateway.console_session(OPERATOR).await;
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway
        .console_page("/console/operator/users?dealer=D001", &operator)
        .await;
    let path = format!("/console/operator/users/{}/reset-totp", ADMIN.0);

    // A wrong code — here the admin's own, not the operator's — changes nothing.
    let admins_code = totp_at(ADMIN_TOTP_SECRET, now_ms());
    for otp in ["", "123456", admins_code.as_str()] {
        let response = gateway
            .console_post(
                &path,
                &operator,
                &[("csrf", &csrf), ("otp", otp), ("dealer", "D001")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{otp}");
        assert!(stored(&gateway, ADMIN.0).await.2, "{otp}");
    }
    gateway.console_page("/console/keys", &admin).await;

    let response = operator_post(&gateway, &path, &operator, &csrf, &[("dealer", "D001")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/console/operator/users?dealer=D001");
    assert!(!stored(&gateway, ADMIN.0).await.2);
    let (html, _) = gateway
        .console_page("/console/operator/users?dealer=D001", &operator)
        .await;
    assert!(
        user_row(&html, ADMIN.0)
            .unwrap()
            .contains("data-totp=\"no\"")
    );

    // The admin's session ended; the password alone logs in, and the admin must enrol again.
    let response = gateway.console_get("/console/keys", &admin).await;
    assert_eq!(location(&response), "/console/login");
    let (cookie, _) = login(&gateway, ADMIN.0, ADMIN.1, "").await.unwrap();
    let response = gateway.console_get("/console/keys", &cookie).await;
    assert_eq!(location(&response), "/console/totp");
    let secret = enrol(&gateway, &cookie).await;
    assert_ne!(secret, ADMIN_TOTP_SECRET);
}

#[tokio::test]
async fn bad_and_duplicate_emails_are_refused_with_what_was_typed() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let (_, csrf) = gateway.console_page("/console/users", &admin).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM console_users")
            .fetch_one(&gateway.pool)
            .await
            .unwrap()
    };
    let before = count().await;
    for (typed, message) in [
        ("CLERK@Tolem.Demo", "already exists"),
        ("  operator@TOLEM.demo ", "already exists"),
        ("not-an-address", "not an e-mail address"),
    ] {
        let response = admin_post(
            &gateway,
            "/console/users?lang=en",
            &admin,
            &csrf,
            &[("email", typed), ("access_level", "full")],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{typed}"
        );
        let html = response.text().await.unwrap();
        let error = text_by_id(&html, "users-error").unwrap();
        assert!(error.contains(message), "{typed}: {error}");
        assert_eq!(input_value(&html, "invite-email").as_deref(), Some(typed));
        assert!(html.contains("<option value=\"full\" selected"), "{typed}");
        assert!(html.contains("id=\"session-ends\""));
    }
    assert_eq!(count().await, before);

    // In Russian too.
    let response = admin_post(
        &gateway,
        "/console/users?lang=ru",
        &admin,
        &csrf,
        &[
            ("email", "Clerk@tolem.demo"),
            ("access_level", "create_view"),
        ],
    )
    .await;
    let html = response.text().await.unwrap();
    assert!(
        text_by_id(&html, "users-error")
            .unwrap()
            .contains("уже есть")
    );

    // A wrong code keeps the form too, and creates nobody.
    let response = gateway
        .console_post(
            "/console/users",
            &admin,
            &[
                ("csrf", &csrf),
                ("email", "someone@d001.kz"),
                ("access_level", "full"),
                ("otp", "000000"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(text_by_id(&html, "users-error").is_some());
    assert_eq!(
        input_value(&html, "invite-email").as_deref(),
        Some("someone@d001.kz")
    );
    assert_eq!(count().await, before);
}

#[tokio::test]
async fn users_are_scoped_to_their_party() {
    let gateway = support::start().await;
    // A second dealer with a user of its own.
    gateway
        .sql(&format!(
            "INSERT INTO dealers (code, name, balance_tiyn, active, created_at_ms) \
             VALUES ('D002', 'Other', 0, 1, {})",
            now_ms()
        ))
        .await;
    let operator = gateway.console_session(OPERATOR).await;
    let (html, csrf) = gateway
        .console_page("/console/operator/users?dealer=D002", &operator)
        .await;
    assert!(html.contains("id=\"dealer-users\""));
    let response = operator_post(
        &gateway,
        "/console/operator/users",
        &operator,
        &csrf,
        &[
            ("email", "boss@d002.kz"),
            ("access_level", "full"),
            ("dealer", "D002"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(text_by_id(&html, "one-time-password").is_some());
    let dealer: Option<String> =
        sqlx::query_scalar("SELECT dealer_code FROM console_users WHERE email = 'boss@d002.kz'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(dealer.as_deref(), Some("D002"));
    // The operator's own page lists the operator's users only.
    let (html, _) = gateway
        .console_page("/console/operator/users", &operator)
        .await;
    assert!(user_row(&html, OPERATOR.0).is_some());
    assert!(user_row(&html, ADMIN.0).is_none());
    let response = gateway
        .console_get("/console/operator/users?dealer=D999", &operator)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The clerk: 403 on the users page and its actions.
    let clerk = gateway.console_session(CLERK).await;
    let response = gateway.console_get("/console/users", &clerk).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A dealer's users: 403 on the operator's page.
    for cookie in [&clerk, &gateway.console_session(ADMIN).await] {
        let response = gateway.console_get("/console/operator/users", cookie).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    // D001's admin sees only D001 and reaches neither the operator's users nor D002's.
    let admin = gateway.console_session(ADMIN).await;
    let (html, csrf) = gateway.console_page("/console/users", &admin).await;
    assert!(user_row(&html, CLERK.0).is_some());
    assert!(user_row(&html, OPERATOR.0).is_none());
    assert!(user_row(&html, "boss@d002.kz").is_none());
    assert!(html.contains("id=\"session-ends\""));
    for target in [OPERATOR.0, "boss@d002.kz"] {
        for verb in ["block", "reset-password", "reset-totp"] {
            let path = format!("/console/users/{target}/{verb}");
            let response = admin_post(&gateway, &path, &admin, &csrf, &[]).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let (blocked, must_change, _, _) = stored(&gateway, target).await;
        assert!(!blocked);
        assert_eq!(must_change, target == "boss@d002.kz");
    }
    let response = admin_post(
        &gateway,
        "/console/operator/users",
        &admin,
        &csrf,
        &[("email", "sneaky@op.kz"), ("access_level", "full")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = admin_post(
        &gateway,
        "/console/users",
        &admin,
        &csrf,
        &[
            ("email", "sneaky@op.kz"),
            ("access_level", "full"),
            ("dealer", "D002"),
        ],
    )
    .await;
    // The dealer field is ignored on a dealer's page: the user is D001's.
    assert_eq!(response.status(), StatusCode::OK);
    let dealer: Option<String> =
        sqlx::query_scalar("SELECT dealer_code FROM console_users WHERE email = 'sneaky@op.kz'")
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(dealer.as_deref(), Some("D001"));
}

#[tokio::test]
async fn every_page_shows_when_the_session_ends() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    for path in [
        "/console/users",
        "/console/keys",
        "/console/points",
        "/console/password",
        "/console/totp",
    ] {
        let (html, _) = gateway.console_page(path, &admin).await;
        assert!(text_by_id(&html, "session-ends").is_some(), "{path}");
    }
    let operator = gateway.console_session(OPERATOR).await;
    for path in [
        "/console/operator/users",
        "/console/operator/users?dealer=D001",
    ] {
        let (html, _) = gateway.console_page(path, &operator).await;
        assert!(text_by_id(&html, "session-ends").is_some(), "{path}");
    }
}

#[tokio::test]
async fn the_password_page_refuses_a_wrong_current_password_and_a_short_one() {
    let gateway = support::start().await;
    let clerk = gateway.console_session(CLERK).await;
    let (_, csrf) = gateway
        .console_page("/console/password?lang=en", &clerk)
        .await;
    let before = stored(&gateway, CLERK.0).await.3;
    for (current, new, message) in [
        (
            "not my password",
            "a long new passphrase",
            "current password is wrong",
        ),
        (CLERK.1, "short", "10 to 128 characters"),
    ] {
        let response = gateway
            .console_post(
                "/console/password?lang=en",
                &clerk,
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("again", new),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = response.text().await.unwrap();
        let error = text_by_id(&html, "password-error").unwrap();
        assert!(error.contains(message), "{error}");
    }
    assert_eq!(stored(&gateway, CLERK.0).await.3, before);
    let response = change_password(&gateway, &clerk, CLERK.1, "a long new passphrase").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        gateway.login(CLERK).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        login(&gateway, CLERK.0, "a long new passphrase", "")
            .await
            .is_ok()
    );
}

/// The password page's form posted in the session `cookie`: `current`, then `new` twice.
async fn change_password(
    gateway: &Gateway,
    cookie: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    let (_, csrf) = gateway.console_page("/console/password", cookie).await;
    gateway
        .console_post(
            "/console/password",
            cookie,
            &[
                ("csrf", &csrf),
                ("current", current),
                ("new", new),
                ("again", new),
            ],
        )
        .await
}

/// A clerk who fears someone else is signed in as them changes the password: that other
/// session ends, theirs goes on. And a session left open is no way to guess the password:
/// wrong current passwords count as failed logins.
#[tokio::test]
async fn a_changed_password_ends_the_users_other_sessions_and_guesses_are_counted() {
    let gateway = support::start().await;
    let mine = gateway.console_session(CLERK).await;
    let theirs = gateway.console_session(CLERK).await;
    let guess = async |current: &str| {
        change_password(&gateway, &theirs, current, "someone else's passphrase")
            .await
            .status()
    };
    for _ in 0..5 {
        assert_eq!(guess("a guess").await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Blocked now, even for the right one.
    assert_eq!(guess(CLERK.1).await, StatusCode::TOO_MANY_REQUESTS);

    // Both sessions come from this test's one address, so the clerk waits out the block too
    // (lifted here as the wait would), then changes the password.
    gateway
        .sql("UPDATE login_attempts SET blocked_until_ms = 0")
        .await;
    let response = change_password(&gateway, &mine, CLERK.1, "a long new passphrase").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let other = gateway.console_get("/console/keys", &theirs).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&other), "/console/login");
    let own = gateway.console_get("/console/keys", &mine).await;
    assert_eq!(own.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_with_a_slash_or_hash_is_acted_on_through_its_button() {
    let gateway = support::start().await;
    let admin = gateway.console_session(ADMIN).await;
    let email = "sales/kz#1@d001.kz";
    invite(&gateway, &admin, email, "create_view").await;
    let (html, csrf) = gateway.console_page("/console/users", &admin).await;
    let action = html
        .split("class=\"block\" method=\"post\" action=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.contains("sales"))
        .expect("a block button for the user")
        .to_owned();
    assert_eq!(action, "/console/users/sales%2Fkz%231@d001.kz/block");
    let response = admin_post(&gateway, &action, &admin, &csrf, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(stored(&gateway, email).await.0);
}
