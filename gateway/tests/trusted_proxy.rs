//! Guards the gateway behind an HTTPS reverse proxy (`--trusted-proxy`), over real HTTP: the
//! test's client plays the proxy at 127.0.0.1 and names clients in `X-Forwarded-For`. One
//! client locked out of the console does not lock out another client of the same account; the
//! audit trail records the client's address, not the proxy's; a header sent by anyone but a
//! trusted proxy is ignored, so rotating forged addresses does not escape the throttle; and
//! a user's one-time codes are counted for the user, so a known password does not let the
//! six digits be tried from address after address.

mod support;

use reqwest::{Response, StatusCode};
use support::{
    Gateway,
    browser::{ADMIN, CLERK},
    client_from,
};

const PROXY: &str = "127.0.0.1";

/// Posts the console login form through `client`, naming the client `forwarded`.
async fn login_via(
    gateway: &Gateway,
    client: &reqwest::Client,
    forwarded: &str,
    (email, password): (&str, &str),
) -> Response {
    client
        .post(format!("{}/console/login", gateway.url))
        .header("x-forwarded-for", forwarded)
        .form(&[("email", email), ("password", password), ("otp", "")])
        .send()
        .await
        .unwrap()
}

/// Wrong passwords for `email` from `forwarded` until the gateway says to wait; how many it took.
async fn lock_out(
    gateway: &Gateway,
    client: &reqwest::Client,
    forwarded: &str,
    email: &str,
) -> usize {
    for attempt in 1..=10 {
        let status = login_via(gateway, client, forwarded, (email, "guess"))
            .await
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return attempt;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    panic!("ten wrong passwords from {forwarded} and still no lockout");
}

/// The addresses of the audit rows of `action`, oldest first.
async fn audited_addresses(gateway: &Gateway, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT ip FROM audit_log WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(&gateway.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn one_client_locked_out_does_not_lock_out_another_behind_the_proxy() {
    let gateway = support::start_behind_proxy(PROXY).await;
    let attempts = lock_out(&gateway, &gateway.client, "203.0.113.7", CLERK.0).await;
    assert_eq!(attempts, 6, "five free failures, then a wait");
    // The guesser waits, even with the right password...
    let guesser = login_via(&gateway, &gateway.client, "203.0.113.7", CLERK).await;
    assert_eq!(guesser.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...and the clerk at another address behind the same proxy logs in.
    let clerk = login_via(&gateway, &gateway.client, "198.51.100.9", CLERK).await;
    assert_eq!(clerk.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_audit_records_the_forwarded_address() {
    let gateway = support::start_behind_proxy(PROXY).await;
    // The client put its own entry first; the proxy appended the address it saw.
    let wrong = login_via(
        &gateway,
        &gateway.client,
        "198.51.100.1, 203.0.113.7",
        (CLERK.0, "guess"),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = login_via(&gateway, &gateway.client, "203.0.113.8", CLERK).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        audited_addresses(&gateway, "login.failed").await,
        ["203.0.113.7"]
    );
    assert_eq!(
        audited_addresses(&gateway, "login.ok").await,
        ["203.0.113.8"]
    );
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let gateway = support::start_behind_proxy(PROXY).await;
    let stranger = client_from("127.0.0.2".parse().unwrap());
    // A fresh forged address every time: still one client, locked out after five.
    let mut locked = false;
    for attempt in 1..=10 {
        let forged = format!("203.0.113.{attempt}");
        let status = login_via(&gateway, &stranger, &forged, (CLERK.0, "guess"))
            .await
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(attempt, 6);
            locked = true;
            break;
        }
    }
    assert!(locked, "forged addresses escaped the throttle");
    let addresses = audited_addresses(&gateway, "login.failed").await;
    assert!(!addresses.is_empty());
    assert!(
        addresses.iter().all(|ip| ip == "127.0.0.2"),
        "{addresses:?}"
    );
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_capped() {
    let gateway = support::start_behind_proxy(PROXY).await;
    // Twenty free failures per address (carrier NAT), each on another account.
    for n in 1..=20 {
        let email = format!("user{n}@tolem.demo");
        let response = login_via(&gateway, &gateway.client, "203.0.113.7", (&email, "guess")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let response = login_via(&gateway, &gateway.client, "203.0.113.7", CLERK).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the proxy is not affected.
    let clerk = login_via(&gateway, &gateway.client, "198.51.100.9", CLERK).await;
    assert_eq!(clerk.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn one_time_codes_guessed_from_many_addresses_are_counted_for_the_user() {
    let gateway = support::start_behind_proxy(PROXY).await;
    // The admin's password is known to someone without the admin's phone: each address tries
    // a code (empty here, so wrong) with it.
    let mut statuses = Vec::new();
    for client in 1..=6 {
        let forwarded = format!("203.0.113.{client}");
        statuses.push(
            login_via(&gateway, &gateway.client, &forwarded, ADMIN)
                .await
                .status(),
        );
    }
    assert_eq!(
        statuses,
        [
            vec![StatusCode::UNAUTHORIZED; 5],
            vec![StatusCode::TOO_MANY_REQUESTS]
        ]
        .concat(),
        "five wrong codes for the user, then a wait whatever the address"
    );
}
