//! Guards the dealer console's keys page over real HTTP, as a browser uses it: the key is
//! shown exactly as the phone shows it (`key=fingerprint`); a full-access user certifies it and
//! activates the point through the forms (each with a one-time code), after which the phone's
//! signed request works, and revokes it, after which it does not; a create-and-view user sees the keys but gets 403 on
//! every confirming action; two pending keys of one point raise a warning, and so does every
//! new key of a point that already has a certified one.

mod support;

use reqwest::{StatusCode, header};
use support::browser::{ADMIN, CLERK, text_of};
use tolem_protocol::{codes::ResultCode, messages::Step};

#[tokio::test]
async fn full_access_certifies_and_activates_then_the_phone_works() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let cookie = gateway.console_session(ADMIN).await;

    let (html, csrf) = gateway.keys_page(&cookie).await;
    // What the dealer reads is exactly what the phone's *View key* shows.
    let text = text_of(&html);
    assert!(
        text.contains(&phone.key.public_key().with_fingerprint()),
        "{text}"
    );
    assert!(html.contains("Заверить ключ мобильной точки"));
    assert!(html.contains("Активировать точку"));
    assert!(
        html.contains(" UTC+5"),
        "times are shown in Kazakhstan time, labelled"
    );

    let response = gateway
        .confirmed_post(
            &format!("/console/keys/{serial}/certify"),
            &cookie,
            &csrf,
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/console/keys");
    let certified_by: String =
        sqlx::query_scalar("SELECT certified_by FROM keys WHERE serial = $1")
            .bind(&serial)
            .fetch_one(&gateway.pool)
            .await
            .unwrap();
    assert_eq!(certified_by, ADMIN.0);

    // From the keys page's button, which comes back to the keys page.
    let response = gateway
        .confirmed_post(
            "/console/points/P1001/activate",
            &cookie,
            &csrf,
            &[("back", "/console/keys")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/console/keys");
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    assert_eq!(reply.code(), ResultCode::Ok);

    let (html, _) = gateway.keys_page(&cookie).await;
    assert!(
        !html.contains("Заверить ключ мобильной точки"),
        "certified: no certify button"
    );
    assert!(
        !html.contains("Активировать точку"),
        "active: no activate button"
    );

    // Revoking in the console stops the phone.
    let response = gateway
        .confirmed_post(
            &format!("/console/keys/{serial}/revoke"),
            &cookie,
            &csrf,
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let reply = gateway.send(&phone, &phone.request(Step::Balance)).await;
    assert_eq!(reply.code(), ResultCode::KeyRevoked);
}

#[tokio::test]
async fn create_and_view_may_look_but_not_confirm() {
    let gateway = support::start().await;
    let phone = gateway.registered_phone(1).await;
    let serial = phone.card.key_serial.clone();
    let cookie = gateway.console_session(CLERK).await;
    let (html, csrf) = gateway.keys_page(&cookie).await;
    assert!(html.contains(&phone.key.public_key().fingerprint().to_string()));
    assert!(!html.contains("Заверить ключ мобильной точки"));

    for path in [
        format!("/console/keys/{serial}/certify"),
        format!("/console/keys/{serial}/revoke"),
        "/console/points/P1001/activate".to_owned(),
    ] {
        // Even with a valid one-time code of somebody else's.
        let code = gateway.admin_code().await;
        let response = gateway
            .console_post(&path, &cookie, &[("csrf", &csrf), ("otp", &code)])
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(gateway.key_state(&serial).await, "pending");
}

#[tokio::test]
async fn two_pending_keys_raise_a_warning() {
    let gateway = support::start().await;
    let first = gateway.registered_phone(1).await;
    let cookie = gateway.console_session(ADMIN).await;
    let (html, _) = gateway.keys_page(&cookie).await;
    assert!(!html.contains("class=\"warning\""));

    let second = gateway.registered_phone(2).await;
    let (html, _) = gateway.keys_page(&cookie).await;
    assert!(html.contains("class=\"warning\""), "{html}");
    assert!(html.contains("сверьте отпечатки с телефоном"));
    for phone in [&first, &second] {
        assert!(html.contains(&format!("data-serial=\"{}\"", phone.card.key_serial)));
    }
}

#[tokio::test]
async fn a_new_key_of_a_point_with_a_certified_one_is_flagged() {
    let gateway = support::start().await;
    let cookie = gateway.console_session(ADMIN).await;
    // The first key of a point is the normal case: no flag while it waits, nor once certified.
    let first = gateway.registered_phone(1).await;
    let (html, _) = gateway.keys_page(&cookie).await;
    assert!(!html.contains("new-key"), "{html}");
    gateway.certify_and_activate(&first).await;
    let (html, _) = gateway.keys_page(&cookie).await;
    assert!(!html.contains("new-key"), "{html}");

    // A second phone registers while the first pays: that key is named in a warning.
    let second = gateway.registered_phone(2).await;
    let (html, _) = gateway.keys_page(&cookie).await;
    let flag = format!(
        "class=\"warning new-key\" role=\"alert\" data-serial=\"{}\"",
        second.card.key_serial
    );
    assert!(html.contains(&flag), "{html}");
    assert!(html.contains("У точки уже есть заверенный ключ"), "{html}");
    assert_eq!(html.matches("new-key").count(), 1, "{html}");
}
